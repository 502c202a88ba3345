package train

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
)

// The saver process: when saverEnv names a run directory, the test binary
// saves checkpoints there in a loop as the training loop does (two mid-epoch
// "interrupted" saves, the second replacing the first, then ckpt-N, best
// every other epoch, prune), printing one line per event on stdout:
//
//	point LABEL   at each checkpoint.Point; LABEL is KIND/POINT, KIND one of
//	              interrupted, ckpt, best (e.g. "best/old-moved-aside")
//	epoch N       after epoch N's checkpoints are complete
//	stopped LABEL at the kill point; the process then blocks until killed
//
// killAtEnv names the kill point: the first occurrence of that label after
// the process has completed an epoch. saverEpochsEnv, when set, makes the
// process exit after that many epochs instead (to list the points).
const (
	saverEnv       = "GOCLS_TRAIN_TEST_SAVER"
	killAtEnv      = "GOCLS_TRAIN_TEST_KILL_AT"
	saverEpochsEnv = "GOCLS_TRAIN_TEST_SAVER_EPOCHS"
)

// saverValue is the value every element of the saver's variable has in the
// checkpoint of (epoch, batch): a torn write would mix values.
func saverValue(epoch, batch int) float32 { return float32(epoch*10 + batch) }

// pointLabel names a point of a save of dir: the kind of checkpoint and the point.
func pointLabel(dir string, p checkpoint.Point) string {
	kind := filepath.Base(dir)
	if strings.HasPrefix(kind, "ckpt-") {
		kind = "ckpt"
	}
	return kind + "/" + string(p)
}

func saverMain() {
	runDir := os.Getenv(saverEnv)
	killAt := os.Getenv(killAtEnv)
	epochs, _ := strconv.Atoi(os.Getenv(saverEpochsEnv))
	armed := false // an epoch completed in this process
	cfg := DefaultConfig()
	cfg.Run.KeepLast = 2
	st := &state{}
	store := model.NewStore()
	saver := checkpoint.Saver{AtPoint: func(dir string, p checkpoint.Point) {
		label := pointLabel(dir, p)
		fmt.Println("point", label)
		if armed && label == killAt {
			fmt.Println("stopped", label)
			_, _ = io.Copy(io.Discard, os.Stdin) // until killed
			os.Exit(3)
		}
	}}
	r := &runner{cfg: cfg, runDir: runDir, store: store, st: st, hk: hooks{saver: saver}}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		panic(err)
	}
	unlock, err := lockRunDir(runDir) // held until the process ends, as a trainer holds it
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer unlock()
	if dir, err := findResume(cfg, runDir, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	} else if dir != "" {
		if err := checkpoint.Load(dir, store, st); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	data := make([]float32, 1<<16)
	set := func(epoch, batch int) {
		for i := range data {
			data[i] = saverValue(epoch, batch)
		}
		if v := store.GetVariable("/model/w"); v != nil {
			v.MustSetValue(tensors.FromFlatDataAndDimensions(data, len(data)))
		} else if _, err := store.CreateVariable("/model/w", tensors.FromFlatDataAndDimensions(data, len(data))); err != nil {
			panic(err)
		}
	}
	for done := 0; epochs == 0 || done < epochs; done++ {
		// Mid-epoch checkpoints of epoch st.Epoch+1.
		for st.Batch = 1; st.Batch <= 2; st.Batch++ {
			set(st.Epoch, st.Batch)
			if err := r.save(filepath.Join(runDir, interruptedDir)); err != nil {
				panic(err)
			}
		}
		// End of the epoch.
		st.Epoch, st.Batch = st.Epoch+1, 0
		set(st.Epoch, 0)
		if err := r.checkpointEpoch(st.Epoch%2 == 1); err != nil {
			panic(err)
		}
		fmt.Println("epoch", st.Epoch)
		armed = true
	}
}

// saverProcess runs the saver on runDir with the given extra environment and
// returns its events: the labels of the points it passed (in order), the
// last epoch it reported, and whether it stopped at its kill point. A
// stopped process is passed to onStop (if not nil), then killed (SIGKILL).
func saverProcess(t *testing.T, runDir string, onStop func(pid int), env ...string) (points []string, reported int, stopped bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), saverEnv+"="+runDir), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // held open: the stopped process blocks reading it
	require.NoError(t, err)
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }() // also when onStop fails the test
	watchdog := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		kind, arg, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "point":
			points = append(points, arg)
		case "epoch":
			n, err := strconv.Atoi(arg)
			require.NoError(t, err)
			reported = n
		case "stopped":
			if onStop != nil {
				onStop(cmd.Process.Pid)
			}
			require.NoError(t, cmd.Process.Kill())
			stopped = true
		}
		if stopped {
			break
		}
	}
	_ = cmd.Wait()
	return points, reported, stopped
}

// TestAtomicSaveUnderKill kills (SIGKILL) a process saving checkpoints at
// every point of its saves and removals in turn (the points are listed by a
// first run that is not killed); after every kill the checkpoint a resume
// would pick, the latest numbered one and the one predict would pick must
// all load, hold untorn values, and the resume point must be no older than
// the last epoch the process reported.
func TestAtomicSaveUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	all, _, _ := saverProcess(t, filepath.Join(t.TempDir(), "list"), nil, saverEpochsEnv+"=3")
	var labels []string
	for _, l := range all {
		if !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	for _, kind := range []string{"interrupted", "ckpt", "best"} {
		for _, p := range []checkpoint.Point{checkpoint.PointTempCreated, checkpoint.PointWeightsWritten, checkpoint.PointStateWritten, checkpoint.PointManifestWritten} {
			require.Contains(t, labels, kind+"/"+string(p))
		}
	}
	for _, l := range []string{"interrupted/old-moved-aside", "interrupted/renamed", "best/old-moved-aside", "best/renamed",
		"interrupted/removing", "ckpt/removing"} {
		require.Contains(t, labels, l)
	}

	t.Logf("%d kill points: %s", len(labels), strings.Join(labels, " "))
	runDir := filepath.Join(t.TempDir(), "run")
	reported := 0
	for _, label := range labels {
		_, n, stopped := saverProcess(t, runDir, nil, killAtEnv+"="+label)
		require.True(t, stopped, "the saver never reached %s", label)
		require.Greater(t, n, reported, "killed at %s: no epoch completed", label)
		reported = n

		// The checkpoint a resume picks.
		resume, err := findResume(DefaultConfig(), runDir, io.Discard)
		require.NoError(t, err)
		st := requireUntorn(t, resume, label)
		require.GreaterOrEqual(t, st.Epoch, reported, "killed at %s: resume point older than a completed epoch", label)
		// The latest numbered checkpoint and predict's choice.
		st = requireUntorn(t, latest(t, runDir), label)
		require.GreaterOrEqual(t, st.Epoch, reported, "killed at %s: latest checkpoint older than a completed epoch", label)
		dir, err := checkpoint.Resolve(runDir, -1)
		require.NoError(t, err, label)
		requireUntorn(t, dir, label)

		// What the next trainer does first: tidy up, losing nothing.
		_, err = checkpoint.Recover(runDir)
		require.NoError(t, err)
		entries, err := os.ReadDir(runDir)
		require.NoError(t, err)
		for _, e := range entries {
			require.False(t, strings.Contains(e.Name(), ".tmp-") || strings.HasSuffix(e.Name(), ".old"), "killed at %s: %s left", label, e.Name())
		}
		resume, err = findResume(DefaultConfig(), runDir, io.Discard)
		require.NoError(t, err)
		st = requireUntorn(t, resume, label)
		require.GreaterOrEqual(t, st.Epoch, reported, "killed at %s: resume point older than a completed epoch after Recover", label)
		dir, err = checkpoint.Resolve(runDir, -1)
		require.NoError(t, err, label)
		requireUntorn(t, dir, label)
	}
}

// requireUntorn loads a checkpoint and checks that its variable matches its
// state.
func requireUntorn(t *testing.T, dir, label string) state {
	t.Helper()
	var st state
	store := model.NewStore()
	require.NoError(t, checkpoint.Load(dir, store, &st), "killed at %s: %s", label, dir)
	v := tensors.MustCopyFlatData[float32](store.GetVariable("/model/w").MustValue())
	want := saverValue(st.Epoch, st.Batch)
	for i, x := range v {
		if x != want {
			t.Fatalf("killed at %s: %s: element %d is %v, want %v (state epoch %d batch %d)", label, dir, i, x, want, st.Epoch, st.Batch)
		}
	}
	return st
}
