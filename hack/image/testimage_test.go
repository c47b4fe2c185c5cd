package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The janus-apiserver image the tests check and run is built once per test
// binary, as `make image` builds it, into a directory TestMain removes.
var (
	testImageDir  string
	testImageOnce sync.Once
	testImage     string
	testImageErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "janus-imagetest-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "image test: %v\n", err)
		os.Exit(1)
	}
	testImageDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testOptions stamp the test's build.
func testOptions() options {
	return options{
		OutDir:     testImageDir,
		Repository: "ghcr.io/infroware",
		Version:    "v0.0.0-imagetest",
		Commit:     "0123456789abcdef",
		Created:    time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Platforms:  []platform{{OS: "linux", Arch: runtime.GOARCH}},
		CABundle:   "/etc/ssl/certs/ca-certificates.crt",
	}
}

// janusAPIServerArchive is the OCI archive of the janus-apiserver image,
// built on first use (about 8 minutes with a cold Go build cache on two
// loaded cores, 20 s warm).
func janusAPIServerArchive(t *testing.T) string {
	t.Helper()
	testImageOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		start := time.Now()
		testImage, testImageErr = buildImage(ctx, testOptions(), "janus-apiserver")
		if testImageErr == nil {
			info, _ := os.Stat(testImage)
			t.Logf("built %s: %.1f MB in %s", testImage, float64(info.Size())/1e6, time.Since(start).Round(time.Second))
		}
	})
	if testImageErr != nil {
		t.Fatalf("building the janus-apiserver image: %v", testImageErr)
	}
	return testImage
}
