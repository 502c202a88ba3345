package train

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
)

// saverEnv, when set to a run directory, turns the test binary into a
// process that saves checkpoints there in a loop as the training loop does
// (mid-epoch "interrupted", then ckpt-N, best, prune), printing each
// completed epoch, until it is killed.
const saverEnv = "GOCLS_TRAIN_TEST_SAVER"

// saverValue is the value every element of the saver's variable has in the
// checkpoint of (epoch, batch): a torn write would mix values.
func saverValue(epoch, batch int) float32 { return float32(epoch*10 + batch) }

func saverMain() {
	runDir := os.Getenv(saverEnv)
	cfg := DefaultConfig()
	cfg.Run.KeepLast = 2
	st := &state{}
	store := model.NewStore()
	r := &runner{cfg: cfg, runDir: runDir, store: store, st: st}
	if dir, err := findResume(cfg, runDir, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	} else if dir != "" {
		if err := checkpoint.Load(dir, store, st); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	data := make([]float32, 1<<20) // 4 MiB: saves take long enough to be hit
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
	for {
		// Mid-epoch checkpoint of epoch st.Epoch+1.
		st.Batch = 1
		set(st.Epoch, st.Batch)
		if err := r.save(filepath.Join(runDir, interruptedDir)); err != nil {
			panic(err)
		}
		// End of the epoch.
		st.Epoch, st.Batch = st.Epoch+1, 0
		set(st.Epoch, 0)
		if err := r.checkpointEpoch(st.Epoch%2 == 1); err != nil {
			panic(err)
		}
		fmt.Println(st.Epoch)
	}
}

// TestAtomicSaveUnderKill kills (SIGKILL) a process saving checkpoints at
// random instants; after every kill the checkpoint a resume would pick, the
// latest numbered one and the one predict would pick must all load, hold
// untorn values, and be no older than the last epoch the process reported.
func TestAtomicSaveUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	runDir := filepath.Join(t.TempDir(), "run")
	rng := rand.New(rand.NewPCG(1, 2))
	reported := 0
	for kill := 0; kill < 8; kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), saverEnv+"="+runDir)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		// Wait for the first completed epoch of this process, then kill it
		// at a random instant of a later save.
		sc := bufio.NewScanner(stdout)
		require.True(t, sc.Scan(), "saver process printed nothing")
		n, err := strconv.Atoi(sc.Text())
		require.NoError(t, err)
		reported = max(reported, n)
		go func() {
			for sc.Scan() {
			}
		}()
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()

		// The checkpoint a resume picks.
		resume, err := findResume(DefaultConfig(), runDir, os.Stderr)
		require.NoError(t, err)
		st := requireUntorn(t, resume)
		require.GreaterOrEqual(t, st.Epoch, reported, "resume point older than a completed epoch")
		// The latest numbered checkpoint and predict's choice.
		requireUntorn(t, latest(t, runDir))
		dir, err := checkpoint.Resolve(runDir, -1)
		require.NoError(t, err)
		requireUntorn(t, dir)
	}
	require.Greater(t, reported, 8, "the saver made progress")
}

// requireUntorn loads a checkpoint and checks that its variable matches its
// state.
func requireUntorn(t *testing.T, dir string) state {
	t.Helper()
	var st state
	store := model.NewStore()
	require.NoError(t, checkpoint.Load(dir, store, &st), dir)
	v := tensors.MustCopyFlatData[float32](store.GetVariable("/model/w").MustValue())
	want := saverValue(st.Epoch, st.Batch)
	for i, x := range v {
		if x != want {
			t.Fatalf("%s: element %d is %v, want %v (state epoch %d batch %d)", dir, i, x, want, st.Epoch, st.Batch)
		}
	}
	return st
}
