package synth

import (
	"bufio"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	require.False(t, Exists(dir))
	require.NoError(t, Generate(dir, Options{Classes: 3, PerClass: 4, Test: 5, Size: 24}))
	require.True(t, Exists(dir))
	f, err := os.Open(filepath.Join(dir, "train_list.txt"))
	require.NoError(t, err)
	defer f.Close()
	formats := map[string]int{}
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines++
		name, label, ok := strings.Cut(sc.Text(), "\t")
		require.True(t, ok)
		require.Contains(t, []string{"0", "1", "2"}, label)
		r, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		_, format, err := image.DecodeConfig(r)
		r.Close()
		require.NoError(t, err, name)
		formats[format]++
	}
	require.Equal(t, 12, lines)
	require.Greater(t, formats["png"], 0)
	require.Greater(t, formats["jpeg"], 0)
	tests, _ := os.ReadDir(filepath.Join(dir, "cat_12_test"))
	require.Len(t, tests, 5)
}
