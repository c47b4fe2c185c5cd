package recording

import (
	"os"
	"syscall"
)

const (
	syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
	fadvDontNeed       = 4 // POSIX_FADV_DONTNEED
)

// startWriteback starts writing f's dirty pages to the disk without
// waiting for them, so that they are clean, and dropFromCache can drop
// them, by the time the next chunk is written.
func startWriteback(f *os.File) { fileCall(f, syscall.SYS_SYNC_FILE_RANGE, syncFileRangeWrite) }

// dropFromCache drops f's clean pages from the page cache: recordings
// are written once and rarely read. Pages still being written stay.
func dropFromCache(f *os.File) { fileCall(f, syscall.SYS_FADVISE64, fadvDontNeed) }

// fileCall makes a call on the whole of f that is an optimisation only:
// errors are left for close, or a later read, to find.
func fileCall(f *os.File, call, flag uintptr) {
	raw, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall6(call, fd, 0, 0, flag, 0, 0)
	})
}
