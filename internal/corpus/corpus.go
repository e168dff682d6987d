// Package corpus finds the shared capture corpus for the tests that read
// it: the folder SENSOR_CORPUS names (../shared/pcaps beside the checkout).
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus folder. Without SENSOR_CORPUS the test skips,
// except under CI=true, where a skip would hide a gap; set to a folder that
// is not the corpus (no MANIFEST.md in it), the test fails saying so, where
// the corpus tests failed on "0 of 0 SYNs" as if the sensor had missed
// them (a review: a clone not beside ../shared).
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SENSOR_CORPUS")
	if dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SENSOR_CORPUS is not set; CI must point it at the shared pcaps folder (../shared/pcaps)")
		}
		t.Skip("SENSOR_CORPUS is not set; set it to the shared pcaps folder (../shared/pcaps) to run the corpus tests")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		t.Fatalf("SENSOR_CORPUS=%s is not the capture corpus (%v): point it at the shared pcaps folder, whose MANIFEST.md lists them", dir, err)
	}
	return dir
}
