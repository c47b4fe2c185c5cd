package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/infroware/janus/internal/testenv"
)

// TestJanusAPIServerImageServesTheTestbedReadOnly runs the janus-apiserver
// image with runc, as a container runtime would run the Deployment's Pod
// (user 65532 from the image, a read-only root filesystem, emptyDirs for
// the data directory and /tmp, the certificates and kubeconfig mounted
// read-only), as the testbed's janus-apiserver: the APIService becomes
// Available through it, and an AccessRequest is created and read back
// with kubectl through the aggregator. It then looks at the container's
// process from outside: uid and gid 65532, no capability but
// CAP_NET_BIND_SERVICE, no new privileges, its root mounted read-only
// (a write there fails with EROFS) and its SQLite database on the tmpfs.
func TestJanusAPIServerImageServesTheTestbedReadOnly(t *testing.T) {
	begin := time.Now()
	repoRoot, err := testenv.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	runc := ensureRunc(t, repoRoot)
	if os.Geteuid() != 0 {
		t.Fatalf("running the image with runc (not rootless) and the testbed on port 443 need root; euid is %d", os.Geteuid())
	}
	if err := deleteOrphans(runc); err != nil {
		t.Fatalf("deleting containers of earlier runs: %v", err)
	}

	img, _ := readArchive(t, janusAPIServerArchive(t))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	uid, gid, err := imageUser(cfg.Config)
	if err != nil {
		t.Fatal(err)
	}
	if uid == 0 || gid == 0 {
		t.Fatalf("the image runs as %s: root", cfg.Config.User)
	}
	// The bundles, the rootfs (with the image's owners and modes; runc
	// creates its mount points in it) and the testbed.
	dir, err := os.MkdirTemp("", "janus-imagetest-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unpackRootfs(img, rootfs); err != nil {
		t.Fatalf("unpacking the image: %v", err)
	}
	c := &containers{runc: runc, rootfs: rootfs, dir: dir, cfg: cfg.Config}
	t.Cleanup(func() {
		if err := c.deleteAll(); err != nil {
			t.Errorf("deleting the containers: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bins, err := testenv.BuildBinaries(ctx, repoRoot, filepath.Join(repoRoot, "_output", "imagetest", "bin"), testWriter{t})
	if err != nil {
		t.Fatalf("building the testbed's binaries: %v", err)
	}
	workDir := filepath.Join(dir, "testbed")
	started := time.Now()
	bed, err := testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: workDir, RepoRoot: repoRoot, Binaries: bins, Progress: testWriter{t},
		JanusCommand: c.command,
	})
	if err != nil {
		t.Fatalf("starting the testbed with janus-apiserver's image in a container: %v", err)
	}
	t.Cleanup(func() {
		if err := bed.Stop(); err != nil {
			t.Errorf("stopping the testbed: %v", err)
		}
	})
	t.Logf("testbed with the containerized janus-apiserver ready in %s (the APIService is Available through it)", time.Since(started).Round(100*time.Millisecond))

	// Through the aggregator, as a user would.
	manifest := filepath.Join(dir, "accessrequest.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: janus.infroware.io/v1alpha1
kind: AccessRequest
metadata:
  generateName: imagetest-
spec:
  cluster: dev
  namespaces: [payments]
  duration: 1h
  reason: "image test: janus-apiserver from its image"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(kubectl(t, bed, "alice", "create", "-f", manifest, "-o", "jsonpath={.metadata.name}"))
	if name == "" {
		t.Fatal("kubectl create printed no name")
	}
	got := kubectl(t, bed, "alice", "get", "accessrequests", name, "-o", "jsonpath={.spec.requester.username} {.spec.cluster} {.status.phase}")
	if got != "alice dev Pending" {
		t.Errorf("kubectl get accessrequests %s = %q, want %q", name, got, "alice dev Pending")
	}

	id := c.latest()
	st, err := stateOf(runc, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "running" || st.PID <= 0 {
		t.Fatalf("container %s is %s (pid %d), want running", id, st.Status, st.PID)
	}
	assertProcess(t, st.PID, uid, gid)
	assertReadOnlyRoot(t, st.PID)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/root%s/janus.db", st.PID, podDataDir)); err != nil {
		t.Errorf("janus-apiserver's SQLite database is not on its data directory's tmpfs: %v", err)
	}
	if exited := bed.Exited(); exited != "" {
		t.Errorf("%s exited", exited)
	}
	t.Logf("the image test ran in %s", time.Since(begin).Round(100*time.Millisecond))
}

// ensureRunc runs hack/ensure-runc.sh, which installs runc if it is
// missing, and returns runc's path.
func ensureRunc(t *testing.T, repoRoot string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(repoRoot, "hack", "ensure-runc.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("the image test runs the image with runc, which hack/ensure-runc.sh could not provide: %v\n%s", err, out)
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatalf("hack/ensure-runc.sh succeeded but runc is not on PATH: %v", err)
	}
	return runc
}

// kubectl runs the testbed's kubectl as a demo user and returns stdout.
func kubectl(t *testing.T, bed *testenv.Testbed, user string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bed.Kubectl(), append([]string{"--kubeconfig", bed.KubeconfigFor(user)}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s as %s: %v\n%s", strings.Join(args, " "), user, err, stderr.String())
	}
	return string(out)
}

// assertProcess checks the container's janus-apiserver from /proc: the
// image's binary, running as uid and gid, with no capability but
// CAP_NET_BIND_SERVICE, unable to gain any, in the host's network
// namespace but a mount namespace of its own.
func assertProcess(t *testing.T, pid int, uid, gid uint32) {
	t.Helper()
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 != "/usr/local/bin/janus-apiserver" {
		t.Errorf("the container runs %q, want the image's entrypoint", argv0)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	// real, effective, saved and filesystem ids
	for key, id := range map[string]uint32{"Uid": uid, "Gid": gid} {
		want := strings.Repeat(fmt.Sprint(id)+" ", 4)
		if got := fields[key]; got != strings.TrimSpace(want) {
			t.Errorf("/proc/%d/status %s: %q, want %q", pid, key, got, strings.TrimSpace(want))
		}
	}
	if got := fields["Groups"]; got != "" && got != fmt.Sprint(gid) {
		t.Errorf("supplementary groups %q, want none but %d", got, gid)
	}
	const netBindService = "0000000000000400" // 1 << CAP_NET_BIND_SERVICE (10)
	for _, key := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if got := fields[key]; got != netBindService {
			t.Errorf("/proc/%d/status %s: %s, want %s (CAP_NET_BIND_SERVICE alone)", pid, key, got, netBindService)
		}
	}
	if got := fields["NoNewPrivs"]; got != "1" {
		t.Errorf("NoNewPrivs: %q, want 1", got)
	}
	ns := func(p, kind string) string {
		link, err := os.Readlink(fmt.Sprintf("/proc/%s/ns/%s", p, kind))
		if err != nil {
			t.Fatal(err)
		}
		return link
	}
	self := fmt.Sprint(os.Getpid())
	if ns(fmt.Sprint(pid), "net") != ns(self, "net") {
		t.Errorf("the container has a network namespace of its own; the testbed's aggregator could not reach it")
	}
	if ns(fmt.Sprint(pid), "mnt") == ns(self, "mnt") {
		t.Errorf("the container shares the test's mount namespace")
	}
}

// assertReadOnlyRoot checks, from /proc/PID/mountinfo, that the
// container's / is mounted read-only and its data directory and /tmp are
// writable tmpfs mounts, and writes through /proc/PID/root: a file at the
// root fails with EROFS even for root on the host, as the mount is
// read-only.
func assertReadOnlyRoot(t *testing.T, pid int) {
	t.Helper()
	info, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string][]string{} // mount point: options, filesystem type
	for _, line := range strings.Split(strings.TrimSpace(string(info)), "\n") {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		f := strings.Fields(line)
		sep := -1
		for i, s := range f {
			if s == "-" {
				sep = i
				break
			}
		}
		if len(f) < 6 || sep < 0 || sep+1 >= len(f) {
			continue
		}
		mounts[f[4]] = []string{f[5], f[sep+1]}
	}
	option := func(point, opt string) bool {
		m, ok := mounts[point]
		if !ok {
			return false
		}
		for _, o := range strings.Split(m[0], ",") {
			if o == opt {
				return true
			}
		}
		return false
	}
	if !option("/", "ro") {
		t.Errorf("the container's / is not mounted read-only: %v", mounts["/"])
	}
	for _, point := range []string{podDataDir, podTmp} {
		if m := mounts[point]; len(m) < 2 || m[1] != "tmpfs" || !option(point, "rw") {
			t.Errorf("the container's %s is %v, want a writable tmpfs", point, m)
		}
	}
	for _, point := range []string{"/var/run/janus/tls", "/var/run/janus/kubeconfig", "/etc/janus/audit"} {
		if !option(point, "ro") {
			t.Errorf("the container's %s is %v, want a read-only mount", point, mounts[point])
		}
	}
	probe := fmt.Sprintf("/proc/%d/root/imagetest-probe", pid)
	err = os.WriteFile(probe, []byte("x"), 0o644)
	if err == nil {
		os.Remove(probe)
	}
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("writing a file at the container's root: %v, want EROFS", err)
	}
}

// testWriter sends the testbed's progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
