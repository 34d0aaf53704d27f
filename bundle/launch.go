package bundle

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables the launcher reads.
const (
	// CacheEnv names the directory that holds unpacked bundles, instead of
	// ${XDG_CACHE_HOME:-$HOME/.cache}/subinterp/bundles.
	CacheEnv = "SUBINTERP_BUNDLE_CACHE"
	// VerifyEnv set to "full" makes every start check the SHA-256 of every
	// unpacked file, not only that each one is there with its size and mode.
	VerifyEnv = "SUBINTERP_BUNDLE_VERIFY"
)

// entryManifestName is the list of an unpacked cache entry's files, written
// into the entry last, before it is renamed into place.
const entryManifestName = ".subinterp-entry.json"

// staleAfter is how old a temporary directory of a dead unpacker must be
// before another start removes it.
const staleAfter = 10 * time.Minute

type entryFile struct {
	Path   string      `json:"path"`
	Size   int64       `json:"size"`
	Mode   os.FileMode `json:"mode"`
	SHA256 string      `json:"sha256"`
}

type entryManifest struct {
	SHA256 string      `json:"sha256"` // the payload's, the entry's name
	Files  []entryFile `json:"files"`
}

// Launch runs the single-file bundle this process was started from: it
// reads the payload's trailer from the end of its own executable, makes
// sure the payload is unpacked into the cache (EnsureUnpacked), and
// replaces itself (execve) with the bundled program, passing on the
// arguments and the environment unchanged; signals and the exit status
// are then the program's own. Launch returns only on failure.
func Launch() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the executable: %w", err)
	}
	entry, t, err := EnsureUnpacked(exe, "")
	if err != nil {
		return err
	}
	prog := filepath.Join(entry, t.Program)
	if err := syscall.Exec(prog, os.Args, os.Environ()); err != nil {
		if errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("executing %s: %w (is the cache on a noexec file system? set %s)", prog, err, CacheEnv)
		}
		return fmt.Errorf("executing %s: %w", prog, err)
	}
	return nil
}

// CacheRoot returns the directory under which bundles are unpacked, each
// into a directory named by its payload's SHA-256, creating it if needed:
// $SUBINTERP_BUNDLE_CACHE if set (no fallback), else the first usable of
// $XDG_CACHE_HOME/subinterp/bundles, $HOME/.cache/subinterp/bundles and
// $TMPDIR/subinterp-<uid>/bundles (a directory private to the user, which
// is refused when someone else owns it or can write to it).
func CacheRoot() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		if !filepath.IsAbs(d) {
			return "", fmt.Errorf("%s=%q is not an absolute path", CacheEnv, d)
		}
		if err := usableDir(d); err != nil {
			return "", fmt.Errorf("%s=%s: %w", CacheEnv, d, err)
		}
		return d, nil
	}
	var tried []string
	for _, base := range []string{os.Getenv("XDG_CACHE_HOME"), homeCache()} {
		if base == "" || !filepath.IsAbs(base) {
			continue
		}
		d := filepath.Join(base, "subinterp", "bundles")
		err := usableDir(d)
		if err == nil {
			return d, nil
		}
		tried = append(tried, err.Error())
	}
	private := filepath.Join(os.TempDir(), "subinterp-"+strconv.Itoa(os.Getuid()))
	if err := privateDir(private); err != nil {
		tried = append(tried, err.Error())
		return "", fmt.Errorf("no usable cache directory for the bundle (set %s): %s", CacheEnv, strings.Join(tried, "; "))
	}
	d := filepath.Join(private, "bundles")
	if err := usableDir(d); err != nil {
		return "", fmt.Errorf("%w (set %s)", err, CacheEnv)
	}
	return d, nil
}

func homeCache() string {
	if h := os.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache")
	}
	return ""
}

// usableDir creates d (0700) if needed and checks that this user can
// create entries in it.
func usableDir(d string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	if err := syscall.Access(d, 2 /* W_OK */); err != nil {
		return fmt.Errorf("%s is not writable: %w", d, err)
	}
	return nil
}

// privateDir makes sure d is a directory of this user's that nobody else
// can write to: in a shared /tmp, another user could otherwise plant a
// cache entry this user would run.
func privateDir(d string) error {
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	st, err := os.Lstat(d)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", d)
	case !ok || int(sys.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to another user", d)
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by others (mode %v)", d, st.Mode().Perm())
	}
	return nil
}

// EnsureUnpacked makes sure the payload of the single-file bundle exe is
// unpacked under root (CacheRoot() when empty) and returns the entry's
// directory and the trailer. An entry that exists is checked against its
// file list (sizes and modes; SHA-256s too when SUBINTERP_BUNDLE_VERIFY=full);
// a damaged one is removed and unpacked again. Unpacking verifies the
// payload's SHA-256 and goes into a temporary directory beside the entry,
// which is synced and renamed into place only when complete, so a start
// that is killed leaves no partial entry, and concurrent first starts are
// safe: one rename wins, the others use its entry.
func EnsureUnpacked(exe, root string) (string, *Trailer, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	t, off, err := readTrailer(f)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", exe, err)
	}
	if root == "" {
		if root, err = CacheRoot(); err != nil {
			return "", nil, err
		}
	} else if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, err
	}
	full := os.Getenv(VerifyEnv) == "full"
	entry := filepath.Join(root, t.SHA256)
	err = verifyEntry(entry, t, full)
	if err == nil {
		return entry, t, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "subinterp bundle: the cache entry %s is damaged (%v): unpacking it again\n", entry, err)
		discard(root, entry)
	}
	removeStale(root)
	tmp, err := os.MkdirTemp(root, fmt.Sprintf(".tmp-%s-%d-", t.SHA256[:16], os.Getpid()))
	if err != nil {
		return "", nil, err
	}
	if err := unpack(f, off, t, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("%s: %w", exe, err)
	}
	if err := os.Rename(tmp, entry); err != nil {
		os.RemoveAll(tmp)
		// Another start renamed its copy first: use that one.
		if verr := verifyEntry(entry, t, full); verr == nil {
			return entry, t, nil
		}
		return "", nil, err
	}
	syncDir(root)
	return entry, t, nil
}

// verifyEntry checks an unpacked entry against its file list. A missing
// entry gives an error matching os.ErrNotExist; anything else wrong wraps
// ErrCorrupt.
func verifyEntry(entry string, t *Trailer, full bool) error {
	if _, err := os.Lstat(entry); err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(entry, entryManifestName))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var m entryManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: its file list: %v", ErrCorrupt, err)
	}
	if m.SHA256 != t.SHA256 {
		return fmt.Errorf("%w: its file list is for payload %s", ErrCorrupt, m.SHA256)
	}
	sawProgram := false
	for _, ef := range m.Files {
		p := filepath.Join(entry, filepath.FromSlash(ef.Path))
		st, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if !st.Mode().IsRegular() || st.Size() != ef.Size || st.Mode().Perm() != ef.Mode.Perm() {
			return fmt.Errorf("%w: %s is %v, %d bytes (want a %v file of %d bytes)", ErrCorrupt, ef.Path, st.Mode(), st.Size(), ef.Mode.Perm(), ef.Size)
		}
		if full {
			sum, err := fileSHA256(p)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			if sum != ef.SHA256 {
				return fmt.Errorf("%w: %s has SHA-256 %s, want %s", ErrCorrupt, ef.Path, sum, ef.SHA256)
			}
		}
		sawProgram = sawProgram || ef.Path == t.Program
	}
	if !sawProgram {
		return fmt.Errorf("%w: the program %s is not in it", ErrCorrupt, t.Program)
	}
	return nil
}

// unpack extracts the payload into dir, checking its SHA-256, writes the
// file list and syncs the file system.
func unpack(f *os.File, off int64, t *Trailer, dir string) error {
	h := sha256.New()
	raw := io.TeeReader(bufio.NewReaderSize(io.NewSectionReader(f, off, t.Size), 1<<20), h)
	var r io.Reader = raw
	if t.Compression == CompressGzip {
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		zr.Multistream(false)
		r = zr
	}
	m := entryManifest{SHA256: t.SHA256}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		name := path.Clean(strings.TrimSuffix(hdr.Name, "/"))
		if name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || name == entryManifestName {
			return fmt.Errorf("%w: bad path %q in the payload", ErrCorrupt, hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			ef, err := writeEntryFile(target, tr, hdr)
			if err != nil {
				return err
			}
			ef.Path = name
			m.Files = append(m.Files, ef)
		default:
			return fmt.Errorf("%w: %q is neither a file nor a directory", ErrCorrupt, hdr.Name)
		}
	}
	// The hash covers every byte of the payload, also what follows the
	// archive's end.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != t.SHA256 {
		return fmt.Errorf("%w: the payload's SHA-256 is %s, want %s", ErrCorrupt, sum, t.SHA256)
	}
	data, err := json.Marshal(&m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, entryManifestName), data, 0o444); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return syncFS(dir)
}

func writeEntryFile(target string, r io.Reader, hdr *tar.Header) (entryFile, error) {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return entryFile{}, err
	}
	mode := os.FileMode(hdr.Mode).Perm()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o200)
	if err != nil {
		return entryFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), r)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%w: %s is short", ErrCorrupt, hdr.Name)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return entryFile{}, err
	}
	if err := os.Chmod(target, mode); err != nil {
		return entryFile{}, err
	}
	if err := os.Chtimes(target, hdr.ModTime, hdr.ModTime); err != nil {
		return entryFile{}, err
	}
	return entryFile{Size: n, Mode: mode, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// discard moves a damaged entry out of the way (so no new start uses it)
// and removes it. Another start may have moved it already.
func discard(root, entry string) {
	aside := filepath.Join(root, fmt.Sprintf(".discard-%s-%d", filepath.Base(entry)[:16], os.Getpid()))
	if err := os.Rename(entry, aside); err == nil {
		os.RemoveAll(aside)
	}
}

// removeStale removes temporary directories left by unpackers that died:
// their process is gone and they are older than staleAfter.
func removeStale(root string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, ".tmp-") && !strings.HasPrefix(name, ".discard-") {
			continue
		}
		parts := strings.Split(name, "-")
		if len(parts) < 3 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
			os.RemoveAll(filepath.Join(root, name))
		}
	}
}

// syncFS flushes the file system holding dir (one syncfs instead of an
// fsync per file), so that the entry renamed into place has its contents
// on disk.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, _, errno := syscall.Syscall(sysSyncfs, d.Fd(), 0, 0); errno != 0 {
		return fmt.Errorf("syncfs %s: %w", dir, errno)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
