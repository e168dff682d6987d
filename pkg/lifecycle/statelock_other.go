//go:build !unix || aix

package lifecycle

import (
	"errors"
	"os"
)

// lockFile takes no lock where flock(2) is not (LockState says so once).
func lockFile(string) (*os.File, error) {
	return nil, errors.New("no flock(2) on this platform")
}
