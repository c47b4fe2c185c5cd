package connector

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestRefreshTimeIsNineTenthsIntoTheToken(t *testing.T) {
	jwt := func(claims string) string {
		return "h." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".s"
	}
	now := time.Unix(1_000_000, 0)
	cases := []struct {
		name   string
		token  string
		want   time.Time
		wantOK bool
	}{
		{"an hour's token just minted", jwt(`{"iat":1000000,"exp":1003600}`), time.Unix(1003240, 0), true},
		{"past nine tenths", jwt(`{"iat":990000,"exp":1000500}`), time.Unix(999450, 0), false},
		{"no iat", jwt(`{"exp":1003600}`), time.Time{}, false},
		{"not a JWT", "garbage", time.Time{}, false},
	}
	for _, tc := range cases {
		got, ok := refreshTime(tc.token, now)
		if ok != tc.wantOK || (ok && !got.Equal(tc.want)) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}
