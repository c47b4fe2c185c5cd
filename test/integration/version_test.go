package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/version"
	"github.com/infroware/janus/test/integration/framework"
)

func TestServerReportsItsBuild(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	info := version.Get()

	t.Run("BuildInfoMetric", func(t *testing.T) {
		// Prometheus's text format sorts the labels by name.
		series := fmt.Sprintf(`janus_build_info{commit=%q,go_version=%q,version=%q}`, info.GitCommit, info.GoVersion, info.GitVersion)
		if got := e.server.Metric(t, series); got != 1 {
			t.Errorf("%s = %v, want 1", series, got)
		}
	})

	t.Run("OpenAPIv3InfoVersion", func(t *testing.T) {
		// What kubectl janus version reads through kube-apiserver.
		client, err := rest.HTTPClientFor(e.server.Config(alice))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(e.server.URL + "/openapi/v3/apis/janus.infroware.io/v1alpha1")
		if err != nil {
			t.Fatalf("reading the OpenAPI v3 document: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET OpenAPI v3: %d %s", resp.StatusCode, body)
		}
		var doc struct {
			Info struct{ Title, Version string }
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("decoding the OpenAPI v3 document: %v", err)
		}
		if doc.Info.Title != "Janus" || doc.Info.Version != info.GitVersion {
			t.Errorf("OpenAPI v3 info = %+v, want title Janus and version %s", doc.Info, info.GitVersion)
		}
	})
}
