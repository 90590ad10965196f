//go:build !unix

package file

import "errors"

// fileState is not available here; Path is then checked on every batch.
func fileState(int) (size int64, linked bool, err error) {
	return 0, false, errors.ErrUnsupported
}
