package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// containerIDPrefix starts the id of every container the test runs, then
// the test process's PID, so that a later run can tell the containers of a
// run that died before its cleanup.
const containerIDPrefix = "janus-imagetest-"

// podFiles are where the Deployment (charts/janus) mounts, read-only, the
// files the testbed hands janus-apiserver by flag. The kubeconfigs stand
// in for the in-cluster config a Pod gets.
var podFiles = map[string]string{
	"--kubeconfig":                "/var/run/janus/kubeconfig/kubeconfig",
	"--authentication-kubeconfig": "/var/run/janus/kubeconfig/kubeconfig",
	"--authorization-kubeconfig":  "/var/run/janus/kubeconfig/kubeconfig",
	"--tls-cert-file":             "/var/run/janus/tls/tls.crt",
	"--tls-private-key-file":      "/var/run/janus/tls/tls.key",
	"--tunnel-cert-file":          "/var/run/janus/tunnel-tls/tls.crt",
	"--tunnel-private-key-file":   "/var/run/janus/tunnel-tls/tls.key",
	"--audit-policy-file":         "/etc/janus/audit/policy.yaml",
}

// The Deployment's writable places, both emptyDirs: the data directory
// and /tmp (kine's unix socket).
const (
	podDataDir = "/var/lib/janus"
	podTmp     = "/tmp"
)

// podArgs turns the flags the testbed gives janus-apiserver into those of
// the container: each file flag names the file's place in podFiles, whose
// directories mounts (container directory to host file by name) say how
// to fill; the data directory is podDataDir and the audit log goes to
// stdout, as in the Deployment. A flag naming any other host path is an
// error: the container could not read it.
func podArgs(args []string) (out []string, mounts map[string]map[string]string, err error) {
	mounts = map[string]map[string]string{}
	for _, arg := range args {
		flag, value, hasValue := strings.Cut(arg, "=")
		switch dest, ok := podFiles[flag]; {
		case ok && hasValue:
			dir, name := path.Split(dest)
			dir = path.Clean(dir)
			if mounts[dir] == nil {
				mounts[dir] = map[string]string{}
			}
			if prev, seen := mounts[dir][name]; seen && prev != value {
				return nil, nil, fmt.Errorf("%s and another flag name %s and %s, both mounted at %s", flag, prev, value, dest)
			}
			mounts[dir][name] = value
			arg = flag + "=" + dest
		case flag == "--data-dir":
			arg = flag + "=" + podDataDir
		case flag == "--audit-log-path":
			arg = flag + "=-"
		case hasValue && filepath.IsAbs(value):
			return nil, nil, fmt.Errorf("the testbed gives janus-apiserver %s, a host path the container does not have: add the flag to podFiles", arg)
		}
		out = append(out, arg)
	}
	return out, mounts, nil
}

// stageMounts copies each mount's files into a directory of its own under
// stage, owned by root and readable by gid, as the kubelet fills a Secret
// volume under the Pod's fsGroup: the testbed's keys are root's 0600
// files, which the container's user may not read. It returns the bind
// mounts, read-only.
func stageMounts(stage string, mounts map[string]map[string]string, gid int) ([]specs.Mount, error) {
	var dirs []string
	for dir := range mounts {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	var out []specs.Mount
	for i, dir := range dirs {
		src := filepath.Join(stage, fmt.Sprintf("%d%s", i, strings.ReplaceAll(dir, "/", "-")))
		if err := os.Mkdir(src, 0o750); err != nil {
			return nil, err
		}
		if err := os.Chown(src, 0, gid); err != nil {
			return nil, err
		}
		for name, host := range mounts[dir] {
			data, err := os.ReadFile(host)
			if err != nil {
				return nil, fmt.Errorf("reading %s for %s: %w", host, path.Join(dir, name), err)
			}
			file := filepath.Join(src, name)
			if err := os.WriteFile(file, data, 0o440); err != nil {
				return nil, err
			}
			if err := os.Chown(file, 0, gid); err != nil {
				return nil, err
			}
		}
		out = append(out, specs.Mount{
			Destination: dir, Type: "bind", Source: src,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
		})
	}
	return out, nil
}

// imageUser is the image config's numeric uid:gid; the images name no user
// by name, which would need the image's /etc/passwd to resolve.
func imageUser(cfg v1.Config) (uid, gid uint32, err error) {
	u, g, ok := strings.Cut(cfg.User, ":")
	if !ok {
		return 0, 0, fmt.Errorf("the image's user %q is not uid:gid", cfg.User)
	}
	uid64, err1 := strconv.ParseUint(u, 10, 32)
	gid64, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("the image's user %q is not numeric uid:gid", cfg.User)
	}
	return uint32(uid64), uint32(gid64), nil
}

// podSpec is the OCI runtime spec of janus-apiserver's container, from
// runc's defaults (`runc spec`: its mounts of /proc, /dev and /sys, masked
// and read-only paths, no new privileges) and the image config, as a
// container runtime makes it: entrypoint, env, workdir and user from the
// image, args after the entrypoint. Like the Deployment's securityContext
// it has a read-only root filesystem and an emptyDir for the data
// directory and /tmp. Two things differ from a Pod: it keeps the host's
// network namespace, so the testbed's aggregator reaches it on the
// Service IP it dials, and therefore its one capability is
// CAP_NET_BIND_SERVICE, for port 443 there (the chart listens on 8443 and
// drops all).
func podSpec(runc, bundle, rootfs string, cfg v1.Config, args []string, mounts []specs.Mount) (*specs.Spec, error) {
	out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("runc spec: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("reading runc's default spec: %w", err)
	}
	uid, gid, err := imageUser(cfg)
	if err != nil {
		return nil, err
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if spec.Process == nil || spec.Linux == nil {
		return nil, errors.New("runc spec wrote no process or linux section")
	}
	caps := []string{"CAP_NET_BIND_SERVICE"}
	spec.Process = &specs.Process{
		User:            specs.User{UID: uid, GID: gid},
		Args:            append(append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...), args...),
		Env:             cfg.Env,
		Cwd:             cwd,
		NoNewPrivileges: true,
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps,
		},
		Rlimits: spec.Process.Rlimits, // runc's: 1024 open files
	}
	spec.Root = &specs.Root{Path: rootfs, Readonly: true}
	spec.Hostname = "janus-apiserver"
	var namespaces []specs.LinuxNamespace
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			namespaces = append(namespaces, ns)
		}
	}
	spec.Linux.Namespaces = namespaces
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: podDataDir, Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "noexec", "mode=0700", fmt.Sprintf("uid=%d", uid), fmt.Sprintf("gid=%d", gid), "size=256m"}},
		specs.Mount{Destination: podTmp, Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=16m"}},
	)
	spec.Mounts = append(spec.Mounts, mounts...)
	data, err = json.MarshalIndent(&spec, "", "  ")
	if err != nil {
		return nil, err
	}
	return &spec, os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
}

// containers runs janus-apiserver's image with runc, one container per
// start, and remembers them for cleanup.
type containers struct {
	runc, rootfs, dir string
	cfg               v1.Config

	mu  sync.Mutex
	ids []string
}

// command is a TestbedConfig.JanusCommand: `runc run` in the foreground,
// which forwards the testbed's SIGTERM to janus-apiserver, passes its
// output through to the testbed's log and deletes the container when it
// ends.
func (c *containers) command(args []string) (*exec.Cmd, error) {
	c.mu.Lock()
	n := len(c.ids)
	id := fmt.Sprintf("%s%d-%d", containerIDPrefix, os.Getpid(), n)
	c.ids = append(c.ids, id)
	c.mu.Unlock()

	bundle := filepath.Join(c.dir, id)
	stage := filepath.Join(bundle, "volumes")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	podArgs, files, err := podArgs(args)
	if err != nil {
		return nil, err
	}
	_, gid, err := imageUser(c.cfg)
	if err != nil {
		return nil, err
	}
	mounts, err := stageMounts(stage, files, int(gid))
	if err != nil {
		return nil, err
	}
	if _, err := podSpec(c.runc, bundle, c.rootfs, c.cfg, podArgs, mounts); err != nil {
		return nil, err
	}
	return exec.Command(c.runc, "run", "--bundle", bundle, id), nil
}

// latest is the id of the last container started.
func (c *containers) latest() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) == 0 {
		return ""
	}
	return c.ids[len(c.ids)-1]
}

// deleteAll force-deletes every container started, whether or not it
// still runs, and says what it could not delete.
func (c *containers) deleteAll() error {
	c.mu.Lock()
	ids := append([]string(nil), c.ids...)
	c.mu.Unlock()
	var failed []string
	for _, id := range ids {
		if err := deleteContainer(c.runc, id); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	return nil
}

// deleteContainer is `runc delete --force`; a container already gone is
// fine.
func deleteContainer(runc, id string) error {
	out, err := exec.Command(runc, "delete", "--force", id).CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("does not exist")) {
		return fmt.Errorf("runc delete --force %s: %v: %s", id, err, bytes.TrimSpace(out))
	}
	return nil
}

// containerState is what `runc state` says of a container.
type containerState struct {
	ID     string `json:"id"`
	PID    int    `json:"pid"`
	Status string `json:"status"`
}

func stateOf(runc, id string) (containerState, error) {
	var st containerState
	out, err := exec.Command(runc, "state", id).Output()
	if err != nil {
		return st, fmt.Errorf("runc state %s: %w", id, err)
	}
	return st, json.Unmarshal(out, &st)
}

// deleteOrphans deletes the containers of earlier test runs whose process
// is gone: a run killed before its cleanup (a test timeout) leaves its
// container running on the testbed's Service IP.
func deleteOrphans(runc string) error {
	out, err := exec.Command(runc, "list", "--format", "json").Output()
	if err != nil {
		return fmt.Errorf("runc list: %w", err)
	}
	var list []containerState
	if err := json.Unmarshal(out, &list); err != nil {
		return fmt.Errorf("reading runc list: %w", err)
	}
	for _, c := range list {
		rest, ok := strings.CutPrefix(c.ID, containerIDPrefix)
		if !ok {
			continue
		}
		owner, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(owner)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		if err := deleteContainer(runc, c.ID); err != nil {
			return err
		}
	}
	return nil
}

func TestPodArgsMountWhatTheTestbedHandsJanus(t *testing.T) {
	args, mounts, err := podArgs([]string{
		"--bind-address=127.1.0.7", "--kubeconfig=/w/pki/janus.kubeconfig", "--authentication-kubeconfig=/w/pki/janus.kubeconfig",
		"--tls-cert-file=/w/pki/janus.crt", "--tls-private-key-file=/w/pki/janus.key",
		"--data-dir=/w/janus-data", "--audit-log-path=/w/logs/audit.log", "--record-input",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "--bind-address=127.1.0.7 --kubeconfig=/var/run/janus/kubeconfig/kubeconfig --authentication-kubeconfig=/var/run/janus/kubeconfig/kubeconfig " +
		"--tls-cert-file=/var/run/janus/tls/tls.crt --tls-private-key-file=/var/run/janus/tls/tls.key " +
		"--data-dir=/var/lib/janus --audit-log-path=- --record-input"
	if got := strings.Join(args, " "); got != want {
		t.Errorf("args\n%s\nwant\n%s", got, want)
	}
	if got := fmt.Sprint(mounts); got != "map[/var/run/janus/kubeconfig:map[kubeconfig:/w/pki/janus.kubeconfig] /var/run/janus/tls:map[tls.crt:/w/pki/janus.crt tls.key:/w/pki/janus.key]]" {
		t.Errorf("mounts %s", got)
	}
	if _, _, err := podArgs([]string{"--kubeconfig=/a", "--authorization-kubeconfig=/b"}); err == nil {
		t.Error("two files for one mount point were accepted")
	}
	if _, _, err := podArgs([]string{"--recording-dir=/w/recordings"}); err == nil || !strings.Contains(err.Error(), "--recording-dir=/w/recordings") {
		t.Errorf("a host path the container lacks: %v, want an error naming it", err)
	}
}
