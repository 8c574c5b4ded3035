package migrate

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	ok := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("two")},
		"m/0001_a.sql": {Data: []byte("one")},
	}
	ms, err := Load(ok, "m", "test")
	if err != nil || len(ms) != 2 || ms[0].Version != 1 || ms[1].SQL != "two" {
		t.Fatalf("Load = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":        {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"no version": {"m/first.sql": {}},
		"duplicate":  {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
	} {
		if _, err := Load(fsys, "m", "test"); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
}
