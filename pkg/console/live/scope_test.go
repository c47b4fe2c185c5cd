package live

import (
	"net/url"
	"strings"
	"testing"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		query, lastEventID string
		want               Scope
		wantRV, wantErr    string
	}{
		{query: "scope=mine&rv=17", want: Mine(), wantRV: "17"},
		{query: "scope=all", want: All()},
		{query: "scope=request&name=req-x7k2&rv=9", lastEventID: "12", want: Request("req-x7k2"), wantRV: "12"},
		{query: "scope=everything", wantErr: `scope: Unsupported value: "everything"`},
		{query: "", wantErr: `scope: Unsupported value: ""`},
		{query: "scope=request&name=Not_A_Name", wantErr: `name: Invalid value: "Not_A_Name"`},
		{query: "scope=mine&rv=" + url.QueryEscape("1\n2"), wantErr: "rv: Invalid value"},
		{query: "scope=mine", lastEventID: strings.Repeat("9", 65), wantErr: "Last-Event-ID: Too long"},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, rv, err := parseRequest(q, tc.lastEventID)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one saying %q", tc.query, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if got != tc.want || rv != tc.wantRV {
			t.Errorf("%q: %+v from %q, want %+v from %q", tc.query, got, rv, tc.want, tc.wantRV)
		}
	}
}

// TestScopeRoundTrip: the address a page is given parses back to its scope.
func TestScopeRoundTrip(t *testing.T) {
	for _, s := range []Scope{Mine(), All(), Request("req-abc")} {
		u, err := url.Parse(Path + "?" + s.query("42"))
		if err != nil {
			t.Fatal(err)
		}
		got, rv, err := parseRequest(u.Query(), "")
		if err != nil || got != s || rv != "42" {
			t.Errorf("%s parses to %+v, %q, %v", u, got, rv, err)
		}
	}
	if fs := Mine().listOptions("alice").FieldSelector; fs != v1alpha1.FieldRequesterUsername+"=alice" {
		t.Errorf("My requests watch with %q", fs)
	}
	if fs := Request("req-abc").listOptions("alice").FieldSelector; fs != "metadata.name=req-abc" {
		t.Errorf("a request's page watches with %q", fs)
	}
	if fs := All().listOptions("alice").FieldSelector; fs != "" {
		t.Errorf("Approvals watch with %q, want everything alice may list", fs)
	}
}
