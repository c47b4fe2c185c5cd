package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// unpackRootfs writes img's flattened filesystem (mutate.Extract applies
// the layers and their whiteouts) into dir, as a container runtime would,
// with each entry's owner and mode. The images hold only directories and
// regular files; anything else, a name leaving dir, or a setuid or setgid
// file is an error: a non-root image has no use for them.
func unpackRootfs(img v1.Image, dir string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the image's filesystem: %w", err)
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("the image has an entry %q outside its root", h.Name)
		}
		mode := h.FileInfo().Mode()
		if mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return fmt.Errorf("the image has a setuid or setgid file %s (%s)", h.Name, mode)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeEntry(target, tr, h.Size); err != nil {
				return fmt.Errorf("unpacking %s: %w", h.Name, err)
			}
		default:
			return fmt.Errorf("the image has %s of tar type %q; only directories and regular files are expected", h.Name, h.Typeflag)
		}
		if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
			return err
		}
		// Chmod after Chown, which would clear setuid bits (there are none)
		// and is not subject to the umask.
		if err := os.Chmod(target, mode&(fs.ModePerm|fs.ModeSticky)); err != nil {
			return err
		}
	}
}

func writeEntry(target string, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
