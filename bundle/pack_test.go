package bundle

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bundleDir makes a small bundle directory: the program is a shell script
// that prints its arguments and exits with status 7.
func bundleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeText(t, filepath.Join(dir, "lib", ManifestName), `{"program": "prog"}`)
	writeText(t, filepath.Join(dir, "prog"), "#!/bin/sh\necho \"args:$*\"\nexit 7\n")
	require.NoError(t, os.Chmod(filepath.Join(dir, "prog"), 0o755))
	writeText(t, filepath.Join(dir, "lib", "python3.99", "os.py"), "# os\n")
	writeText(t, filepath.Join(dir, "lib", "python3.99", "json", "decoder.py"), "# decoder, a little longer\n")
	mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "lib", "python3.99", "os.py"), mtime, mtime))
	return dir
}

// fakeLauncher stands in for the launcher where only the payload matters.
func fakeLauncher(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "launcher")
	writeText(t, p, "#!/bin/false\n"+string(make([]byte, 4096)))
	return p
}

func pack(t *testing.T, dir, launcher string, c Compression) (string, *Trailer) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "single")
	tr, err := Pack(context.Background(), PackOptions{Dir: dir, Launcher: launcher, Out: out, Compression: c})
	require.NoError(t, err)
	return out, tr
}

func TestPackAndUnpack(t *testing.T) {
	for _, c := range []Compression{CompressGzip, CompressNone} {
		t.Run(string(c), func(t *testing.T) {
			dir := bundleDir(t)
			single, tr := pack(t, dir, fakeLauncher(t), c)
			assert.Equal(t, "prog", tr.Program)
			assert.Equal(t, c, tr.Compression)
			st, err := os.Stat(single)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())
			read, err := ReadTrailer(single)
			require.NoError(t, err)
			assert.Equal(t, tr, read)

			root := t.TempDir()
			entry, got, err := EnsureUnpacked(single, root)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(root, tr.SHA256), entry)
			assert.Equal(t, tr, got)
			for _, rel := range []string{"prog", "lib/python3.99/os.py", "lib/python3.99/json/decoder.py", "lib/" + ManifestName} {
				want, err := os.ReadFile(filepath.Join(dir, rel))
				require.NoError(t, err)
				have, err := os.ReadFile(filepath.Join(entry, rel))
				require.NoError(t, err)
				assert.Equal(t, want, have, rel)
				wst, _ := os.Stat(filepath.Join(dir, rel))
				hst, _ := os.Stat(filepath.Join(entry, rel))
				assert.Equal(t, wst.Mode().Perm(), hst.Mode().Perm(), rel)
				assert.True(t, wst.ModTime().Equal(hst.ModTime()), "%s: mtime %v, want %v", rel, hst.ModTime(), wst.ModTime())
			}
			names, _ := os.ReadDir(root)
			require.Len(t, names, 1, "only the entry, no temporary directory")

			// Warm: the same entry, not unpacked again.
			before, err := os.Stat(entry)
			require.NoError(t, err)
			again, _, err := EnsureUnpacked(single, root)
			require.NoError(t, err)
			after, err := os.Stat(again)
			require.NoError(t, err)
			assert.True(t, os.SameFile(before, after))
		})
	}
}

func TestPackIsReproducible(t *testing.T) {
	dir, launcher := bundleDir(t), fakeLauncher(t)
	_, a := pack(t, dir, launcher, CompressGzip)
	_, b := pack(t, dir, launcher, CompressGzip)
	assert.Equal(t, a.SHA256, b.SHA256, "the same bundle gives the same cache entry")
}

func TestDamagedEntryIsUnpackedAgain(t *testing.T) {
	single, tr := pack(t, bundleDir(t), fakeLauncher(t), CompressGzip)
	decoder := filepath.Join("lib", "python3.99", "json", "decoder.py")
	cases := []struct {
		name   string
		damage func(entry string)
		full   bool // detected only by SUBINTERP_BUNDLE_VERIFY=full
	}{
		{"file removed", func(e string) { require.NoError(t, os.Remove(filepath.Join(e, decoder))) }, false},
		{"file truncated", func(e string) { require.NoError(t, os.Truncate(filepath.Join(e, decoder), 3)) }, false},
		{"mode changed", func(e string) { require.NoError(t, os.Chmod(filepath.Join(e, "prog"), 0o600)) }, false},
		{"file list removed", func(e string) { require.NoError(t, os.Remove(filepath.Join(e, entryManifestName))) }, false},
		{"file list garbled", func(e string) {
			p := filepath.Join(e, entryManifestName)
			require.NoError(t, os.Chmod(p, 0o644))
			require.NoError(t, os.WriteFile(p, []byte("{"), 0o644))
		}, false},
		{"same-size edit", func(e string) {
			p := filepath.Join(e, decoder)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			data[0] ^= 0xff
			require.NoError(t, os.WriteFile(p, data, 0o644))
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			entry, _, err := EnsureUnpacked(single, root)
			require.NoError(t, err)
			c.damage(entry)
			if c.full {
				require.NoError(t, verifyEntry(entry, tr, false), "a quick check does not read contents")
				t.Setenv(VerifyEnv, "full")
			}
			require.ErrorIs(t, verifyEntry(entry, tr, c.full), ErrCorrupt)
			entry2, _, err := EnsureUnpacked(single, root)
			require.NoError(t, err)
			assert.Equal(t, entry, entry2)
			require.NoError(t, verifyEntry(entry, tr, true), "restored in full")
			names, _ := os.ReadDir(root)
			assert.Len(t, names, 1, "the damaged copy is gone")
		})
	}
}

func TestCorruptSingleFiles(t *testing.T) {
	launcher := fakeLauncher(t)
	single, tr := pack(t, bundleDir(t), launcher, CompressGzip)
	data, err := os.ReadFile(single)
	require.NoError(t, err)
	payloadStart := int64(len(data)) - int64(len(trailerMagic)) - 8 - int64(binary.LittleEndian.Uint64(data[len(data)-len(trailerMagic)-8:])) - tr.Size

	variant := func(edit func([]byte) []byte) string {
		p := filepath.Join(t.TempDir(), "variant")
		require.NoError(t, os.WriteFile(p, edit(append([]byte(nil), data...)), 0o755))
		return p
	}
	cases := []struct {
		name string
		file string
		want error
	}{
		{"a payload byte flipped", variant(func(b []byte) []byte { b[payloadStart+tr.Size/2] ^= 1; return b }), ErrCorrupt},
		{"the payload's last byte flipped", variant(func(b []byte) []byte { b[payloadStart+tr.Size-1] ^= 1; return b }), ErrCorrupt},
		{"no payload", launcher, ErrNoPayload},
		{"truncated", variant(func(b []byte) []byte { return b[:len(b)-5] }), ErrNoPayload},
		{"trailer length too big", variant(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[len(b)-len(trailerMagic)-8:], 1<<40)
			return b
		}), ErrCorrupt},
		{"payload larger than the file", variant(func(b []byte) []byte { return b[payloadStart+10:] }), ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			_, _, err := EnsureUnpacked(c.file, root)
			require.ErrorIs(t, err, c.want)
			names, _ := os.ReadDir(root)
			assert.Empty(t, names, "nothing unpacked, no temporary directory left")
		})
	}
	_, err = Pack(context.Background(), PackOptions{Dir: bundleDir(t), Launcher: single, Out: filepath.Join(t.TempDir(), "x")})
	assert.ErrorContains(t, err, "already carries a payload")
	_, err = Pack(context.Background(), PackOptions{Dir: t.TempDir(), Launcher: launcher, Out: filepath.Join(t.TempDir(), "x")})
	assert.ErrorIs(t, err, os.ErrNotExist, "not a bundle directory")
	_, err = Pack(context.Background(), PackOptions{Dir: bundleDir(t), Launcher: launcher, Out: filepath.Join(t.TempDir(), "x"), Compression: "zip"})
	assert.ErrorContains(t, err, `compression "zip"`)
}

func TestTrailerValidation(t *testing.T) {
	good := Trailer{SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 1, Program: "prog", Compression: CompressNone}
	require.NoError(t, good.validate())
	for name, edit := range map[string]func(*Trailer){
		"short hash":        func(t *Trailer) { t.SHA256 = "abc" },
		"path in hash":      func(t *Trailer) { t.SHA256 = "../" + t.SHA256[3:] },
		"zero size":         func(t *Trailer) { t.Size = 0 },
		"program with path": func(t *Trailer) { t.Program = "../prog" },
		"hidden program":    func(t *Trailer) { t.Program = ".subinterp-entry.json" },
		"compression":       func(t *Trailer) { t.Compression = "xz" },
	} {
		tr := good
		edit(&tr)
		assert.ErrorIs(t, tr.validate(), ErrCorrupt, name)
	}
}

func TestConcurrentFirstStarts(t *testing.T) {
	single, tr := pack(t, bundleDir(t), fakeLauncher(t), CompressGzip)
	root := t.TempDir()
	const n = 8
	entries := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entries[i], _, errs[i] = EnsureUnpacked(single, root)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, filepath.Join(root, tr.SHA256), entries[i])
	}
	names, _ := os.ReadDir(root)
	assert.Len(t, names, 1, "one entry, no temporary directories")
	require.NoError(t, verifyEntry(entries[0], tr, true))
}

func TestRemoveStale(t *testing.T) {
	root := t.TempDir()
	dead := deadPID(t)
	old := time.Now().Add(-2 * staleAfter)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Join(p, "lib"), 0o755))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	staleTmp := mk(".tmp-0123456789abcdef-"+strconv.Itoa(dead)+"-42", old)
	staleDiscard := mk(".discard-0123456789abcdef-"+strconv.Itoa(dead), old)
	recent := mk(".tmp-0123456789abcdef-"+strconv.Itoa(dead)+"-43", time.Now())
	alive := mk(".tmp-0123456789abcdef-"+strconv.Itoa(os.Getpid())+"-44", old)
	entry := mk("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", old)
	removeStale(root)
	assert.NoDirExists(t, staleTmp)
	assert.NoDirExists(t, staleDiscard)
	assert.DirExists(t, recent, "a dead unpacker's directory is kept for a while (pid namespaces)")
	assert.DirExists(t, alive, "a live unpacker's directory is kept")
	assert.DirExists(t, entry)
}

// deadPID returns the pid of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestCacheRoot(t *testing.T) {
	explicit := t.TempDir()
	t.Setenv(CacheEnv, explicit)
	got, err := CacheRoot()
	require.NoError(t, err)
	assert.Equal(t, explicit, got)

	t.Setenv(CacheEnv, "relative/dir")
	_, err = CacheRoot()
	assert.ErrorContains(t, err, "not an absolute path")

	t.Setenv(CacheEnv, "")
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	got, err = CacheRoot()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(xdg, "subinterp", "bundles"), got)

	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", home)
	got, err = CacheRoot()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".cache", "subinterp", "bundles"), got)

	tmp := t.TempDir()
	t.Setenv("HOME", "")
	t.Setenv("TMPDIR", tmp)
	got, err = CacheRoot()
	require.NoError(t, err)
	private := filepath.Join(tmp, "subinterp-"+strconv.Itoa(os.Getuid()))
	assert.Equal(t, filepath.Join(private, "bundles"), got)
	st, err := os.Stat(private)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	// An unusable HOME falls back to the private directory.
	file := filepath.Join(t.TempDir(), "file")
	writeText(t, file, "")
	t.Setenv("HOME", file)
	got, err = CacheRoot()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(private, "bundles"), got)
}

func TestPrivateDirRefusals(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	require.NoError(t, os.Mkdir(open, 0o755))
	require.NoError(t, os.Chmod(open, 0o777))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(t.TempDir(), link))
	file := filepath.Join(base, "file")
	writeText(t, file, "")
	for name, p := range map[string]string{"writable by others": open, "a symlink": link, "a file": file} {
		err := privateDir(p)
		assert.Error(t, err, name)
	}
	if os.Getuid() == 0 {
		other := filepath.Join(base, "other")
		require.NoError(t, os.Mkdir(other, 0o700))
		require.NoError(t, os.Chown(other, 12345, 12345))
		assert.ErrorContains(t, privateDir(other), "another user")
	}
	t.Setenv(CacheEnv, "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	t.Setenv("TMPDIR", base)
	require.NoError(t, os.Mkdir(filepath.Join(base, "subinterp-"+strconv.Itoa(os.Getuid())), 0o777))
	require.NoError(t, os.Chmod(filepath.Join(base, "subinterp-"+strconv.Itoa(os.Getuid())), 0o777))
	_, err := CacheRoot()
	assert.ErrorContains(t, err, CacheEnv, "the error says how to choose a directory")
}

// TestLauncher builds the real launcher and runs a single file made with
// it: the arguments reach the program and its exit status comes back.
func TestLauncher(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the launcher")
	}
	launcher := filepath.Join(t.TempDir(), "launcher")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	require.NoError(t, BuildLauncher(ctx, "go", ".", launcher))
	single, tr := pack(t, bundleDir(t), launcher, CompressGzip)
	root := t.TempDir()
	cmd := exec.Command(single, "a", "b c")
	cmd.Env = []string{CacheEnv + "=" + root, "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v", err)
	assert.Equal(t, 7, exit.ExitCode())
	assert.Equal(t, "args:a b c\n", string(out))
	assert.DirExists(t, filepath.Join(root, tr.SHA256))

	cmd = exec.Command(single)
	cmd.Env = []string{CacheEnv + "=relative"}
	out, err = cmd.CombinedOutput()
	require.True(t, errors.As(err, &exit), "%v", err)
	assert.Equal(t, 127, exit.ExitCode())
	assert.Contains(t, string(out), "cannot start the bundled program")
}
