package datastore

import (
	"os/exec"
	"strings"
	"testing"
)

// TestJanusAPIServerLinksTheChosenSQLiteDriver: the cgo mattn driver, and
// not the pure-Go one, is what janus-apiserver is built with, so the tests
// (which use this build) run the SQLite that ships.
func TestJanusAPIServerLinksTheChosenSQLiteDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/infroware/janus/cmd/janus-apiserver").Output()
	if err != nil {
		t.Fatalf("go list -deps janus-apiserver: %v", err)
	}
	deps := strings.Fields(string(out))
	has := func(pkg string) bool {
		for _, d := range deps {
			if d == pkg || strings.HasPrefix(d, pkg+"/") {
				return true
			}
		}
		return false
	}
	if !has("github.com/mattn/go-sqlite3") {
		t.Error("janus-apiserver does not link github.com/mattn/go-sqlite3 (is CGO_ENABLED=0?)")
	}
	if has("modernc.org/sqlite") {
		t.Error("janus-apiserver links modernc.org/sqlite too: two SQLite drivers")
	}
	cgo, err := exec.Command("go", "env", "CGO_ENABLED").Output()
	if err != nil || strings.TrimSpace(string(cgo)) != "1" {
		t.Errorf("CGO_ENABLED=%q: the SQLite driver needs cgo", strings.TrimSpace(string(cgo)))
	}
}
