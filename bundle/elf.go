package bundle

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// ErrNotELF is returned for a file that is not a dynamically linked ELF
// object.
var ErrNotELF = errors.New("not a dynamically linked ELF file")

// ErrNoSearchPath is returned when an ELF file has no DT_RUNPATH or DT_RPATH
// entry to rewrite: the new path would need a string table entry the file
// does not have room for.
var ErrNoSearchPath = errors.New("the ELF file has no RUNPATH or RPATH to rewrite")

// ErrNoRoom is returned when the new search path is longer than the string
// it would replace in the file's dynamic string table.
var ErrNoRoom = errors.New("the new search path is longer than the old one")

// ErrSharedString is returned when another name in the dynamic string table
// shares bytes with the search path (the linker merged a suffix), so the
// path cannot be overwritten without changing that name too.
var ErrSharedString = errors.New("the search path's bytes are shared with another name")

// DynamicInfo is what the dynamic loader reads from an ELF file: the
// libraries it needs and where it looks for them.
type DynamicInfo struct {
	// Needed are the DT_NEEDED sonames, in order.
	Needed []string
	// SearchPath is the DT_RUNPATH, or when there is none the DT_RPATH
	// (colon-separated, may use $ORIGIN); empty when there is neither.
	SearchPath string
	// SearchTag is the tag SearchPath came from (elf.DT_RUNPATH or
	// elf.DT_RPATH), 0 when there is none.
	SearchTag elf.DynTag
	// Soname is DT_SONAME, empty for executables.
	Soname string
	// GlibcVersions are the GLIBC_x.y symbol versions the file needs from
	// the C library and its companions (libm, libpthread, ...), e.g. "2.34".
	GlibcVersions []string
}

// dynFile is an ELF file's dynamic section and dynamic string table, read
// raw so that they can be rewritten in place.
type dynFile struct {
	f        *elf.File
	order    binary.ByteOrder
	entSize  int64       // size of one dynamic entry
	dynOff   int64       // file offset of the dynamic section
	entries  []dynEntry  // up to and excluding DT_NULL
	strOff   int64       // file offset of the dynamic string table
	strtab   []byte      // its bytes
	strRefs  map[int]int // offset -> count of names that start there (besides path entries)
	pathTags []int       // indexes into entries of DT_RUNPATH/DT_RPATH
}

type dynEntry struct {
	tag elf.DynTag
	val uint64
}

// ReadDynamic reads the dynamic-loading information of the ELF file at path.
func ReadDynamic(path string) (*DynamicInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := parseDyn(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info := &DynamicInfo{}
	for _, e := range d.entries {
		switch e.tag {
		case elf.DT_NEEDED:
			info.Needed = append(info.Needed, d.str(e.val))
		case elf.DT_SONAME:
			info.Soname = d.str(e.val)
		case elf.DT_RUNPATH:
			info.SearchPath, info.SearchTag = d.str(e.val), elf.DT_RUNPATH
		case elf.DT_RPATH:
			if info.SearchTag != elf.DT_RUNPATH {
				info.SearchPath, info.SearchTag = d.str(e.val), elf.DT_RPATH
			}
		}
	}
	info.GlibcVersions, err = d.glibcVersions()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// IsELF reports whether the file at path starts with the ELF magic number.
func IsELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == elf.ELFMAG
}

// SetSearchPath rewrites the library search path of the ELF file at path
// to newPath, in place, and makes it a DT_RPATH. The new string overwrites
// the old one in the dynamic string table, so it must not be longer
// (ErrNoRoom); a file without a search path cannot get one
// (ErrNoSearchPath). On any error the file is left unchanged.
//
// DT_RPATH rather than DT_RUNPATH because the loader applies an
// executable's DT_RPATH to every library loaded in the process that has no
// DT_RUNPATH of its own — extension modules opened with dlopen and the
// libraries they need — while a DT_RUNPATH serves only the object's own
// direct dependencies.
func SetSearchPath(path, newPath string) error {
	if strings.ContainsRune(newPath, 0) {
		return fmt.Errorf("%s: search path %q contains a NUL byte", path, newPath)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	d, err := parseDyn(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(d.pathTags) == 0 {
		f.Close()
		return fmt.Errorf("%s: %w", path, ErrNoSearchPath)
	}
	// The longest of the existing path strings receives the new one; every
	// path entry then points at it.
	best, bestLen := uint64(0), -1
	for _, i := range d.pathTags {
		if n := len(d.str(d.entries[i].val)); n > bestLen {
			best, bestLen = d.entries[i].val, n
		}
	}
	if len(newPath) > bestLen {
		f.Close()
		return fmt.Errorf("%s: %w (%d bytes free, %q needs %d): link the program with -Wl,-rpath,'$ORIGIN/lib' instead",
			path, ErrNoRoom, bestLen, newPath, len(newPath))
	}
	for off := int(best); off < int(best)+bestLen; off++ {
		if d.strRefs[off] > 0 {
			f.Close()
			return fmt.Errorf("%s: %w (at string table offset %d)", path, ErrSharedString, off)
		}
	}
	buf := make([]byte, bestLen)
	copy(buf, newPath)
	if _, err := f.WriteAt(buf, d.strOff+int64(best)); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, i := range d.pathTags {
		d.entries[i] = dynEntry{tag: elf.DT_RPATH, val: best}
		if err := d.writeEntry(f, i); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseDyn reads the dynamic section through the program headers (what
// the loader uses) and the names that point into the dynamic string table
// through the section headers.
func parseDyn(r io.ReaderAt) (*dynFile, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotELF, err)
	}
	d := &dynFile{f: f, order: f.ByteOrder, strRefs: map[int]int{}}
	switch f.Class {
	case elf.ELFCLASS64:
		d.entSize = 16
	case elf.ELFCLASS32:
		d.entSize = 8
	default:
		return nil, fmt.Errorf("%w: unknown ELF class %v", ErrNotELF, f.Class)
	}
	var dyn *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			dyn = p
		}
	}
	if dyn == nil {
		return nil, fmt.Errorf("%w: no PT_DYNAMIC segment (statically linked?)", ErrNotELF)
	}
	d.dynOff = int64(dyn.Off)
	raw := make([]byte, dyn.Filesz)
	if _, err := r.ReadAt(raw, d.dynOff); err != nil {
		return nil, fmt.Errorf("reading the dynamic section: %w", err)
	}
	var strAddr, strSize uint64
	for i := int64(0); (i+1)*d.entSize <= int64(len(raw)); i++ {
		e := d.decodeEntry(raw[i*d.entSize:])
		if e.tag == elf.DT_NULL {
			break
		}
		switch e.tag {
		case elf.DT_STRTAB:
			strAddr = e.val
		case elf.DT_STRSZ:
			strSize = e.val
		case elf.DT_RUNPATH, elf.DT_RPATH:
			d.pathTags = append(d.pathTags, len(d.entries))
		}
		d.entries = append(d.entries, e)
	}
	if strAddr == 0 || strSize == 0 {
		return nil, fmt.Errorf("%w: no dynamic string table", ErrNotELF)
	}
	off, ok := d.fileOffset(strAddr, strSize)
	if !ok {
		return nil, fmt.Errorf("%w: the dynamic string table at %#x is outside every loaded segment", ErrNotELF, strAddr)
	}
	d.strOff = off
	d.strtab = make([]byte, strSize)
	if _, err := r.ReadAt(d.strtab, off); err != nil {
		return nil, fmt.Errorf("reading the dynamic string table: %w", err)
	}
	for _, e := range d.entries {
		switch e.tag {
		case elf.DT_NEEDED, elf.DT_SONAME, elf.DT_AUXILIARY, elf.DT_FILTER:
			d.strRefs[int(e.val)]++
		}
	}
	if err := d.collectSectionRefs(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *dynFile) decodeEntry(b []byte) dynEntry {
	if d.entSize == 16 {
		return dynEntry{tag: elf.DynTag(int64(d.order.Uint64(b))), val: d.order.Uint64(b[8:])}
	}
	return dynEntry{tag: elf.DynTag(int32(d.order.Uint32(b))), val: uint64(d.order.Uint32(b[4:]))}
}

func (d *dynFile) writeEntry(w io.WriterAt, i int) error {
	b := make([]byte, d.entSize)
	e := d.entries[i]
	if d.entSize == 16 {
		d.order.PutUint64(b, uint64(e.tag))
		d.order.PutUint64(b[8:], e.val)
	} else {
		d.order.PutUint32(b, uint32(e.tag))
		d.order.PutUint32(b[4:], uint32(e.val))
	}
	_, err := w.WriteAt(b, d.dynOff+int64(i)*d.entSize)
	return err
}

// fileOffset maps a virtual address range to a file offset through the
// PT_LOAD segments.
func (d *dynFile) fileOffset(addr, size uint64) (int64, bool) {
	for _, p := range d.f.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr+size <= p.Vaddr+p.Filesz {
			return int64(p.Off + addr - p.Vaddr), true
		}
	}
	return 0, false
}

// str returns the NUL-terminated string at off in the dynamic string table.
func (d *dynFile) str(off uint64) string {
	if off >= uint64(len(d.strtab)) {
		return ""
	}
	s := d.strtab[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// collectSectionRefs records the names in .dynsym, .gnu.version_r and
// .gnu.version_d that point into the dynamic string table. Without section
// headers these cannot be found, and rewriting the table is refused.
func (d *dynFile) collectSectionRefs() error {
	if len(d.f.Sections) == 0 {
		return fmt.Errorf("%w: no section headers, so the names sharing the string table cannot be checked", ErrNotELF)
	}
	if s := d.f.SectionByType(elf.SHT_DYNSYM); s != nil {
		data, err := s.Data()
		if err != nil {
			return fmt.Errorf("reading %s: %w", s.Name, err)
		}
		symSize := 24
		if d.entSize == 8 {
			symSize = 16
		}
		for i := 0; i+symSize <= len(data); i += symSize {
			if n := d.order.Uint32(data[i:]); n != 0 {
				d.strRefs[int(n)]++
			}
		}
	}
	return d.walkVersions(func(off uint32, _ string, _ bool) { d.strRefs[int(off)]++ })
}

// walkVersions calls fn for every name in the version sections: the file
// names and version names of .gnu.version_r (needed: true) and the names of
// .gnu.version_d.
func (d *dynFile) walkVersions(fn func(nameOff uint32, file string, needed bool)) error {
	if s := d.f.SectionByType(elf.SHT_GNU_VERNEED); s != nil {
		data, err := s.Data()
		if err != nil {
			return fmt.Errorf("reading %s: %w", s.Name, err)
		}
		for off := uint32(0); int(off)+16 <= len(data); {
			cnt := d.order.Uint16(data[off+2:])
			file := d.order.Uint32(data[off+4:])
			fn(file, "", false)
			fileName := d.str(uint64(file))
			aux := off + d.order.Uint32(data[off+8:])
			for j := uint16(0); j < cnt && int(aux)+16 <= len(data); j++ {
				fn(d.order.Uint32(data[aux+8:]), fileName, true)
				next := d.order.Uint32(data[aux+12:])
				if next == 0 {
					break
				}
				aux += next
			}
			next := d.order.Uint32(data[off+12:])
			if next == 0 {
				break
			}
			off += next
		}
	}
	if s := d.f.SectionByType(elf.SHT_GNU_VERDEF); s != nil {
		data, err := s.Data()
		if err != nil {
			return fmt.Errorf("reading %s: %w", s.Name, err)
		}
		for off := uint32(0); int(off)+20 <= len(data); {
			cnt := d.order.Uint16(data[off+6:])
			aux := off + d.order.Uint32(data[off+12:])
			for j := uint16(0); j < cnt && int(aux)+8 <= len(data); j++ {
				fn(d.order.Uint32(data[aux:]), "", false)
				next := d.order.Uint32(data[aux+4:])
				if next == 0 {
					break
				}
				aux += next
			}
			next := d.order.Uint32(data[off+16:])
			if next == 0 {
				break
			}
			off += next
		}
	}
	return nil
}

// glibcVersions lists the GLIBC_ versions the file needs, highest first.
func (d *dynFile) glibcVersions() ([]string, error) {
	seen := map[string]bool{}
	err := d.walkVersions(func(off uint32, file string, needed bool) {
		if !needed || !IsGlibc(file) {
			return
		}
		if v, ok := strings.CutPrefix(d.str(uint64(off)), "GLIBC_"); ok && v != "PRIVATE" {
			seen[v] = true
		}
	})
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[j], out[i]) })
	return out, err
}

// versionLess compares dotted version numbers ("2.9" < "2.34").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errx := strconv.Atoi(as[i])
		y, erry := strconv.Atoi(bs[i])
		if errx != nil || erry != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// glibcSonames are the libraries of the GNU C library itself. A bundle
// never carries them: they must match the target's dynamic loader, so the
// target provides them (every glibc-based image does).
var glibcSonames = map[string]bool{
	"libc.so.6": true, "libm.so.6": true, "libpthread.so.0": true, "libdl.so.2": true,
	"librt.so.1": true, "libutil.so.1": true, "libresolv.so.2": true, "libanl.so.1": true,
	"libnsl.so.1": true, "libmvec.so.1": true, "libBrokenLocale.so.1": true,
	"libnss_files.so.2": true, "libnss_dns.so.2": true, "libc_malloc_debug.so.0": true,
	"ld-linux-x86-64.so.2": true, "ld-linux-aarch64.so.1": true, "ld-linux.so.2": true,
	"ld-linux-armhf.so.3": true, "ld64.so.2": true, "ld64.so.1": true, "ld-linux-riscv64-lp64d.so.1": true,
}

// IsGlibc reports whether soname is a library of the GNU C library, which
// the target system provides.
func IsGlibc(soname string) bool { return glibcSonames[soname] }
