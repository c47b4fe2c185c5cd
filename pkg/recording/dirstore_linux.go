package recording

import (
	"os"
	"syscall"
)

// writeThrough writes f's pages to the disk, waiting for them, and drops
// them from the page cache. It is an optimisation only: errors are left
// for close (or a later read) to find. Waiting costs the uploader the
// disk's latency, never the session: the session waits only once the
// upload queue is full.
func writeThrough(f *os.File) {
	const (
		syncWaitBefore = 1 // SYNC_FILE_RANGE_WAIT_BEFORE
		syncWrite      = 2 // SYNC_FILE_RANGE_WRITE
		syncWaitAfter  = 4 // SYNC_FILE_RANGE_WAIT_AFTER
		fadvDontNeed   = 4 // POSIX_FADV_DONTNEED
	)
	raw, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		if _, _, errno := syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, 0, 0, syncWaitBefore|syncWrite|syncWaitAfter, 0, 0); errno != 0 {
			return
		}
		_, _, _ = syscall.Syscall6(syscall.SYS_FADVISE64, fd, 0, 0, fadvDontNeed, 0, 0)
	})
}
