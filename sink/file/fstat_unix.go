//go:build unix

package file

import "syscall"

// fileState returns the size of the open file fd and whether it still has
// a name (link count > 0), with one fstat(2) and no allocation.
func fileState(fd int) (size int64, linked bool, err error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, false, err
	}
	return st.Size, st.Nlink > 0, nil
}
