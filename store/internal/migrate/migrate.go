// Package migrate loads the numbered SQL migrations the durable stores
// embed. Applying them is each store's business (SQLite and PostgreSQL lock
// and record versions differently); reading and ordering them is shared.
package migrate

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one embedded migration file.
type Migration struct {
	// Version is the number its file name starts with, from 1 without gaps.
	Version int
	// Name is the file name.
	Name string
	// SQL is the file's content.
	SQL string
}

// Load returns the migrations in dir of fsys in version order. File names
// start with the version and an underscore ("0002_reliability.sql");
// versions must run 1, 2, 3, ... without gaps. prefix starts error
// messages (the store's package name).
func Load(fsys fs.FS, dir, prefix string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s: migration %q: name does not start with a version", prefix, e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("%s: migration %q: want version %d", prefix, m.Name, i+1)
		}
	}
	return out, nil
}
