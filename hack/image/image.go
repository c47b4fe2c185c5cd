package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// buildImage builds name for every platform and writes the OCI archive
// <OutDir>/<name>.tar, returning its path.
func buildImage(ctx context.Context, o options, name string) (string, error) {
	work, err := os.MkdirTemp("", "janus-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)

	ref := o.Repository + "/" + name + ":" + o.Version
	annotations := labels(o, name)
	annotations["org.opencontainers.image.ref.name"] = ref

	var index v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		binary, err := buildBinary(ctx, o, name, p, filepath.Join(work, p.OS+"-"+p.Arch))
		if err != nil {
			return "", err
		}
		img, err := assemble(o, name, p, binary)
		if err != nil {
			return "", fmt.Errorf("assembling %s for %s: %w", name, p, err)
		}
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch},
				// ref.name belongs to the archive's entry alone.
				Annotations: labels(o, name),
			},
		})
	}
	// One platform is written as that image alone, so that tools which
	// take an archive of one image (podman load, skopeo, crane) need no
	// platform choice; more are written as a nested index.
	dir := filepath.Join(work, "layout")
	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", fmt.Errorf("creating the OCI layout: %w", err)
	}
	if len(o.Platforms) == 1 {
		img, err := index.Image(mustFirstDigest(index))
		if err != nil {
			return "", err
		}
		err = path.AppendImage(img, layout.WithAnnotations(annotations), layout.WithPlatform(v1.Platform{OS: o.Platforms[0].OS, Architecture: o.Platforms[0].Arch}))
		if err != nil {
			return "", fmt.Errorf("writing %s: %w", ref, err)
		}
	} else if err := path.AppendIndex(index, layout.WithAnnotations(annotations)); err != nil {
		return "", fmt.Errorf("writing %s: %w", ref, err)
	}

	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return "", err
	}
	archive := filepath.Join(o.OutDir, name+".tar")
	if err := tarDirectory(dir, archive, o.Created); err != nil {
		return "", fmt.Errorf("writing %s: %w", archive, err)
	}
	return archive, nil
}

func mustFirstDigest(index v1.ImageIndex) v1.Hash {
	m, err := index.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		return v1.Hash{}
	}
	return m.Manifests[0].Digest
}

// assemble is the image of one platform: the base layer, the binary's
// layer, and a config that runs the binary as nonroot.
func assemble(o options, name string, p platform, binaryPath string) (v1.Image, error) {
	files, err := baseFiles(o.CABundle)
	if err != nil {
		return nil, err
	}
	base, err := layer(files, o.Created)
	if err != nil {
		return nil, err
	}
	binary, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, err
	}
	app, err := layer(binaryFiles(name, binary), o.Created)
	if err != nil {
		return nil, err
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: o.Created}, CreatedBy: "hack/image: CA certificates, /etc/passwd with nonroot 65532, /tmp", Comment: "base",
		}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: o.Created}, CreatedBy: "hack/image: CGO_ENABLED=0 go build -trimpath ./cmd/" + name, Comment: o.Version,
		}},
	)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = p.OS, p.Arch
	cfg.Created = v1.Time{Time: o.Created}
	cfg.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", nonrootUID, nonrootGID),
		Entrypoint: []string{"/usr/local/bin/" + name},
		WorkingDir: "/home/nonroot",
		Env:        []string{"PATH=/usr/local/bin", "HOME=/home/nonroot"},
		Labels:     labels(o, name),
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels(o, name)).(v1.Image), nil
}

// labels are the OCI annotations the image config and manifest carry.
func labels(o options, name string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       name,
		"org.opencontainers.image.description": binaries[name],
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Commit,
		"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
		"org.opencontainers.image.source":      "https://github.com/infroware/janus",
		"org.opencontainers.image.url":         "https://github.com/infroware/janus",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.vendor":      "infroware",
	}
}

// layer is files as a gzip-compressed OCI layer.
func layer(files []file, modTime time.Time) (v1.Layer, error) {
	data, err := tarFiles(files, modTime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
