package dataset

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func listFixture(t *testing.T) string {
	root := t.TempDir()
	for i := 0; i < 4; i++ {
		writeFile(t, root, fmt.Sprintf("imgs/a%d.jpg", i), []byte("x"))
	}
	writeFile(t, root, "imgs/with space.jpg", []byte("x"))
	return root
}

func TestReadList(t *testing.T) {
	root := listFixture(t)
	tests := []struct {
		name     string
		text     string
		want     []Sample
		warnings int
	}{
		{"tab", "imgs/a0.jpg\t0\nimgs/a1.jpg\t1\n", []Sample{{Name: "imgs/a0.jpg", Label: 0}, {Name: "imgs/a1.jpg", Label: 1}}, 1},
		{"spaces crlf blank bom", "\ufeffimgs/a0.jpg   2\r\n\r\n  \nimgs/a1.jpg 0\r\n", []Sample{{Name: "imgs/a0.jpg", Label: 2}, {Name: "imgs/a1.jpg", Label: 0}}, 1},
		{"comment no newline", "# header\nimgs/a2.jpg\t1", []Sample{{Name: "imgs/a2.jpg", Label: 1}}, 2},
		{"name with space", "imgs/with space.jpg\t0\nimgs/a3.jpg\t1\nimgs/a1.jpg\t2", []Sample{{Name: "imgs/with space.jpg", Label: 0}, {Name: "imgs/a3.jpg", Label: 1}, {Name: "imgs/a1.jpg", Label: 2}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lp := writeFile(t, t.TempDir(), "list.txt", []byte(tc.text))
			got, warns, err := ReadList(lp, root, 3)
			require.NoError(t, err)
			require.Len(t, warns, tc.warnings)
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				require.Equal(t, w.Name, got[i].Name)
				require.Equal(t, w.Label, got[i].Label)
				require.Equal(t, filepath.Join(root, w.Name), got[i].Path)
			}
		})
	}
}

func TestReadListErrors(t *testing.T) {
	root := listFixture(t)
	tests := []struct{ name, text, want string }{
		{"not integer", "imgs/a0.jpg\tcat\n", "list.txt:1: label \"cat\" is not an integer"},
		{"out of range", "imgs/a0.jpg\t0\n\nimgs/a1.jpg\t3\n", "list.txt:3: label 3 out of range [0,3)"},
		{"negative", "imgs/a0.jpg\t-1\n", "label -1 out of range"},
		{"missing file", "imgs/nope.jpg\t0\n", "list.txt:1: missing image file"},
		{"duplicate", "imgs/a0.jpg\t0\nimgs/a1.jpg\t1\n./imgs/a0.jpg\t2\n", "list.txt:3: duplicate entry \"./imgs/a0.jpg\" (first on line 1)"},
		{"one field", "imgs/a0.jpg\n", "list.txt:1: want"},
		{"empty", "\n\n", "no samples"},
		{"several", "imgs/a0.jpg\tx\nimgs/a1.jpg\t9\n", "list.txt:2: label 9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lp := writeFile(t, t.TempDir(), "list.txt", []byte(tc.text))
			_, _, err := ReadList(lp, root, 3)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "dataset: "), err.Error())
		})
	}
	_, _, err := ReadList(filepath.Join(root, "missing.txt"), root, 3)
	require.ErrorContains(t, err, "missing.txt")
	_, _, err = ReadList(filepath.Join(root, "missing.txt"), root, 0)
	require.ErrorContains(t, err, "num_classes")
}

func TestReadListWarnsEmptyClass(t *testing.T) {
	root := listFixture(t)
	lp := writeFile(t, t.TempDir(), "list.txt", []byte("imgs/a0.jpg\t0\nimgs/a1.jpg\t2\n"))
	_, warns, err := ReadList(lp, root, 4)
	require.NoError(t, err)
	require.Equal(t, []string{"dataset: " + lp + ": class 1 has no images", "dataset: " + lp + ": class 3 has no images"}, warns)
}

func TestListImages(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.jpg", "a.png", ".hidden", "c.txt"} {
		writeFile(t, dir, n, []byte("x"))
	}
	writeFile(t, dir, "sub/d.jpg", []byte("x"))
	got, err := ListImages(dir)
	require.NoError(t, err)
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
		require.Equal(t, -1, s.Label)
		require.Equal(t, filepath.Join(dir, s.Name), s.Path)
	}
	require.Equal(t, []string{"a.png", "b.jpg", "c.txt"}, names)
	_, err = ListImages(filepath.Join(dir, "nope"))
	require.ErrorContains(t, err, "dataset: listing images")
	_, err = ListImages(t.TempDir())
	require.ErrorContains(t, err, "no image files")
}
