package cpython_test

import (
	"bytes"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// Types a service would pass and get back.
type (
	Meta struct {
		Source string `json:"source"`
	}
	Article struct {
		Meta
		Title   string            `json:"title"`
		Tags    []string          `json:"tags,omitempty"`
		Draft   bool              `json:"draft,omitempty"`
		Secret  string            `json:"-"`
		Score   *float64          `json:"score"`
		Posted  time.Time         `json:"posted"`
		ReadFor time.Duration     `json:"read_for"`
		Related []Article         `json:"related,omitempty"`
		Counts  map[string]int    `json:"counts,omitempty"`
		Seen    map[string]bool   `json:"seen,omitempty"`
		Extra   map[string]string `json:"extra,omitempty"`
	}
)

const goapiPrelude = `
import datetime

def describe(doc):
    # What Python received: the keys in order and the types of a few.
    return {
        "keys": list(doc),
        "posted": [type(doc["posted"]).__name__, doc["posted"].tzinfo is datetime.timezone.utc,
                   doc["posted"].isoformat()],
        "read_for": [type(doc["read_for"]).__name__, doc["read_for"].total_seconds()],
        "related": [type(r).__name__ for r in doc.get("related", [])],
    }

def article(title):
    return {
        "source": "py", "title": title, "tags": ["a", "b"], "score": None,
        "posted": datetime.datetime(2026, 12, 1, 23, 0, 0, 250, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
        "read_for": datetime.timedelta(minutes=3, microseconds=7),
        "related": [{"title": "r", "posted": datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc),
                     "read_for": datetime.timedelta(0)}],
        "counts": {"x": 1}, "seen": {"y", "z"}, "ignored": object.__name__,
    }

def kw(a, b=2, *, c=3, **rest):
    return [a, b, c, sorted(rest.items())]

def shout(s):
    print(s.upper())
    return len(s)
`

func TestStructsCross(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, goapiPrelude))
	score := 0.75
	doc := Article{
		Meta: Meta{Source: "go"}, Title: "t", Secret: "not sent", Score: &score,
		Posted:  time.Date(2026, 12, 1, 22, 0, 0, 1000, time.FixedZone("CET", 3600)),
		ReadFor: 90 * time.Second,
		Related: []Article{{Title: "r"}},
	}
	got, err := cpython.CallAs[map[string]any](bg, in, "describe", &doc)
	require.NoError(t, err)
	assert.Equal(t, []any{"source", "title", "score", "posted", "read_for", "related"}, got["keys"],
		"json names in declaration order; omitempty, - and the embedded struct honoured")
	assert.Equal(t, []any{"datetime", true, "2026-12-01T21:00:00.000001+00:00"}, got["posted"], "aware, UTC")
	assert.Equal(t, []any{"timedelta", 90.0}, got["read_for"])
	assert.Equal(t, []any{"dict"}, got["related"])

	a, err := cpython.CallAs[Article](bg, in, "article", "hello")
	require.NoError(t, err)
	assert.Equal(t, Article{
		Meta: Meta{Source: "py"}, Title: "hello", Tags: []string{"a", "b"},
		Posted:  time.Date(2026, 12, 1, 22, 0, 0, 250000, time.UTC),
		ReadFor: 3*time.Minute + 7*time.Microsecond,
		Related: []Article{{Title: "r", Posted: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		Counts:  map[string]int{"x": 1}, Seen: map[string]bool{"y": true, "z": true},
	}, a)
	assert.Equal(t, time.UTC, a.Posted.Location())

	p, err := cpython.CallAs[*Article](bg, in, "article", "ptr")
	require.NoError(t, err)
	assert.Equal(t, "ptr", p.Title)
}

func TestConversionErrors(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, goapiPrelude))
	cases := []struct {
		name   string
		expr   string
		want   string
		field  string
		python string
	}{
		{"field type", `{"title": 5}`, `Python int to Go string at ["title"] (field Article.Title)`, "Article.Title", "int"},
		{"nested field", `{"related": [{}, {"posted": "yesterday"}]}`,
			`Python str to Go time.Time at ["related"][1]["posted"] (field Article.Posted)`, "Article.Posted", "str"},
		{"map value", `{"counts": {"a": 1.5}}`, `Python float to Go int at ["counts"]["a"] (field Article.Counts)`, "Article.Counts", "float"},
		{"not a dict", `[1]`, `Python list to Go cpython_test.Article`, "", "list"},
		{"None for a string", `{"title": None}`, `Python None to Go string at ["title"]`, "Article.Title", "None"},
		{"set for a map of ints", `{"counts": {"a"}}`, "map[K]struct{} or map[K]bool", "Article.Counts", "set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := cpython.EvalAs[Article](bg, in, c.expr)
			require.Error(t, err)
			assert.ErrorIs(t, err, channel.ErrConvert)
			assert.ErrorContains(t, err, c.want)
			var ce *channel.ConvertError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, c.field, ce.Field)
			assert.Equal(t, c.python, ce.Python)
		})
	}
}

func TestTimeSetBytesValues(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "import datetime\nUTC = datetime.timezone.utc"))

	when, err := cpython.EvalAs[time.Time](bg, in, "datetime.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)")
	require.NoError(t, err)
	assert.Equal(t, time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), when)
	back, err := in.Call(bg, "str", when)
	require.NoError(t, err)
	assert.Equal(t, "1999-12-31 23:59:59.999999+00:00", back)
	d, err := cpython.EvalAs[time.Duration](bg, in, "-datetime.timedelta(days=1, microseconds=1)")
	require.NoError(t, err)
	assert.Equal(t, -24*time.Hour-time.Microsecond, d)
	v, err := in.Call(bg, "repr", 36*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, "datetime.timedelta(days=1, seconds=43200)", v)

	tags, err := cpython.EvalAs[[]string](bg, in, "{'only'}")
	require.NoError(t, err)
	assert.Equal(t, []string{"only"}, tags, "a set fits a slice")
	set, err := in.Eval(bg, "frozenset({1})")
	require.NoError(t, err)
	assert.Equal(t, channel.FrozenSet{int64(1)}, set)
	v, err = in.Call(bg, "sorted", channel.Set{"b", "a"})
	require.NoError(t, err)
	assert.Equal(t, []any{"a", "b"}, v)
	v, err = in.Call(bg, "repr", channel.FrozenSet{int64(1)})
	require.NoError(t, err)
	assert.Equal(t, "frozenset({1})", v)

	for expr, want := range map[string]string{
		"bytearray(b'ab')":         "ab",
		"memoryview(b'abcd')[1:3]": "bc",
		"memoryview(b'xyz')[::2]":  "xz",
	} {
		b, err := cpython.EvalAs[[]byte](bg, in, expr)
		require.NoError(t, err, expr)
		assert.Equal(t, want, string(b), expr)
	}

	bad := []struct {
		name string
		run  func() error
		want string
	}{
		{"naive datetime", func() error { _, err := in.Eval(bg, "datetime.datetime(2020, 1, 1)"); return err }, "naive datetime"},
		{"timedelta beyond Duration", func() error { _, err := in.Eval(bg, "datetime.timedelta(days=200000)"); return err }, "292 years"},
		{"sub-µs time", func() error { _, err := in.Call(bg, "str", time.Unix(0, 1)); return err }, "sub-microsecond"},
		{"sub-µs duration", func() error { _, err := in.Call(bg, "str", time.Nanosecond); return err }, "Truncate or Round"},
		{"unhashable set item", func() error { _, err := in.Call(bg, "str", channel.Set{[]any{}}); return err }, "cannot be an item of a set"},
		{"struct with a chan", func() error { _, err := in.Call(bg, "str", struct{ C chan int }{}); return err }, "chan int"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			assert.ErrorIs(t, err, cpython.ErrNotShareable)
			assert.ErrorContains(t, err, c.want)
		})
	}
	ok, err := in.Eval(bg, "__import__('subinterp').is_shareable(datetime.datetime.now(UTC)) and not __import__('subinterp').is_shareable(datetime.datetime.now())")
	require.NoError(t, err)
	assert.Equal(t, true, ok, "Python's is_shareable follows the same rules")
}

func TestKwargsAndOptions(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, goapiPrelude))
	v, err := in.Call(bg, "kw", 1, cpython.Kwargs{"c": 30, "z": true})
	require.NoError(t, err)
	assert.Equal(t, []any{int64(1), int64(2), int64(30), []any{channel.Tuple{"z", true}}}, v)
	v, err = in.Call(bg, "kw", cpython.Kwargs{"a": "only keywords", "b": nil})
	require.NoError(t, err)
	assert.Equal(t, []any{"only keywords", nil, int64(3), []any{}}, v)
	v, err = in.Call(bg, "kw", map[string]any{"a": 1}, cpython.Kwargs{})
	require.NoError(t, err)
	assert.Equal(t, []any{channel.Dict{{Key: "a", Value: int64(1)}}, int64(2), int64(3), []any{}}, v,
		"a map is a positional dict; an empty Kwargs adds nothing")
	s, err := cpython.CallAs[string](bg, in, "json.dumps", []int{1}, cpython.Kwargs{"indent": 1})
	require.NoError(t, err)
	assert.Equal(t, "[\n 1\n]", s)

	var out bytes.Buffer
	n, err := cpython.CallAs[int](bg, in, "shout", "hi", cpython.WithStdout(&out))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, "HI\n", out.String(), "flushed by the time Call returns")
	out.Reset()
	v, err = in.Call(bg, "kw", "x", cpython.Kwargs{"c": "g"}, cpython.WithGlobals(map[string]any{"G": 7}), cpython.WithStderr(&out))
	require.NoError(t, err)
	assert.Equal(t, []any{"x", int64(2), "g", []any{}}, v)
	g, err := in.Eval(bg, "G")
	require.NoError(t, err)
	assert.Equal(t, int64(7), g, "WithGlobals binds before the call")

	bad := []struct {
		name string
		args []any
		is   error
		want string
	}{
		{"kwargs first", []any{cpython.Kwargs{"c": 1}, 2}, cpython.ErrInvalidArgument, "argument 1 is a Kwargs followed by positional arguments"},
		{"two kwargs", []any{1, cpython.Kwargs{"c": 1}, cpython.Kwargs{"z": 1}}, cpython.ErrInvalidArgument, "two Kwargs"},
		{"option first", []any{cpython.WithStdout(&out), 1}, cpython.ErrInvalidArgument, "options go last"},
		{"nil option", []any{1, cpython.ExecOption(nil)}, cpython.ErrInvalidArgument, "nil ExecOption"},
		{"bad keyword value", []any{1, cpython.Kwargs{"c": make(chan int)}}, cpython.ErrNotShareable, `keyword argument "c"`},
		{"bad positional", []any{1, func() {}}, cpython.ErrNotShareable, "argument 2"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := in.Call(bg, "kw", c.args...)
			assert.ErrorIs(t, err, c.is)
			assert.ErrorContains(t, err, c.want)
		})
	}
	_, err = in.Call(bg, "kw", 1, cpython.Kwargs{"b": 1, "nope": 2, "c": 3, "a": 4})
	var rf *cpython.RunFailedError
	require.True(t, errors.As(err, &rf), "%v", err)
	assert.Equal(t, "TypeError", rf.Type)
	assert.Contains(t, rf.Message, "multiple values for argument 'a'")
}

func TestTypedResultsOnPools(t *testing.T) {
	pool := newPool(t, cpython.PoolOptions{Size: 1, Prelude: goapiPrelude})
	a, err := cpython.CallAs[Article](bg, pool, "article", "pooled")
	require.NoError(t, err)
	assert.Equal(t, "pooled", a.Title)
	n, err := cpython.EvalAs[uint8](bg, pool, "2 ** 8 - 1")
	require.NoError(t, err)
	assert.Equal(t, uint8(255), n)
	_, err = cpython.EvalAs[uint8](bg, pool, "2 ** 8")
	assert.ErrorContains(t, err, "256 overflows uint8")

	var out bytes.Buffer
	v, err := pool.Call(bg, "kw", 1, cpython.Kwargs{"b": "B"}, cpython.WithStdout(&out))
	require.NoError(t, err)
	assert.Equal(t, []any{int64(1), "B", int64(3), []any{}}, v)
	_, err = pool.Call(bg, "shout", "pool", cpython.WithStdout(&out))
	require.NoError(t, err)
	assert.Equal(t, "POOL\n", out.String())

	none, err := cpython.EvalAs[any](bg, pool, "None")
	require.NoError(t, err)
	assert.Nil(t, none)
	nilArticle, err := cpython.EvalAs[*Article](bg, pool, "None")
	require.NoError(t, err)
	assert.Nil(t, nilArticle)
	anything, err := cpython.EvalAs[any](bg, pool, "[1]")
	require.NoError(t, err)
	assert.Equal(t, []any{int64(1)}, anything)

	_, err = cpython.CallAs[int](bg, nil, "f")
	assert.ErrorIs(t, err, cpython.ErrNotInitialized)
	_, err = cpython.EvalAs[int](bg, (*cpython.Pool)(nil), "1")
	assert.ErrorIs(t, err, cpython.ErrNotInitialized, "a nil *Pool")
	_, err = cpython.CallAs[int](bg, (*cpython.Interpreter)(nil), "f")
	assert.ErrorIs(t, err, cpython.ErrNotInitialized, "a nil *Interpreter")
}

// TestCallAsReleasesDroppedEnds: channel ends a result carries that T
// does not keep are released, those it keeps stay usable.
func TestCallAsReleasesDroppedEnds(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "import subinterp\nr, s = subinterp.create_channel()"))
	type holder struct {
		R *channel.RecvChannel `json:"r"`
	}
	h, err := cpython.EvalAs[holder](bg, in, "{'r': r, 's': s}")
	require.NoError(t, err)
	require.NotNil(t, h.R)
	_, err = in.Call(bg, "s.send_nowait", "hello")
	require.NoError(t, err)
	msg, ok, err := h.R.RecvNowait()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "hello", msg)
	id := h.R.ID()
	require.NoError(t, h.R.Release())
	require.NoError(t, in.Exec(bg, "del r, s"))
	// EvalAs released its binding of s, which holder had no room for: with
	// Python's ends gone too, nothing holds the channel any more.
	_, _, err = rt.Channels().Lookup(id)
	assert.ErrorIs(t, err, channel.ErrNotFound)
}

// TestNewValuesOnPythonChannels: datetimes, timedeltas and sets cross
// channels between Python code, and from Python to Go, by the same rules.
func TestNewValuesOnPythonChannels(t *testing.T) {
	in := newInterp(t)
	src := `
import subinterp, datetime
UTC = datetime.timezone.utc
r, s = subinterp.create_channel()
vals = [datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime.timedelta(seconds=-1.5),
        {1, "a", (2, 3)}, frozenset({frozenset({4})}), {"t": datetime.datetime.min.replace(tzinfo=UTC)}]
for v in vals:
    s.send_nowait(v)
got = [r.recv() for _ in vals]
assert got == vals, (got, vals)
assert type(got[3]) is frozenset and type(got[2]) is set
try:
    s.send_nowait(datetime.datetime(2026, 1, 1))
except subinterp.NotShareableError as e:
    naive = str(e)
s.send_nowait({"when": vals[0], "tags": {"x"}})
`
	require.NoError(t, in.Exec(bg, src))
	naive, err := in.Eval(bg, "naive")
	require.NoError(t, err)
	assert.Contains(t, naive, "naive datetime")
	rid, err := cpython.EvalAs[int64](bg, in, "r.id")
	require.NoError(t, err)
	rc, _, err := rt.Channels().Lookup(channel.ID(rid))
	require.NoError(t, err)
	v, err := rc.Recv(bg)
	require.NoError(t, err)
	type msg struct {
		When time.Time `json:"when"`
		Tags []string  `json:"tags"`
	}
	m, err := channel.ConvertTo(v, reflect.TypeFor[msg]())
	require.NoError(t, err)
	assert.Equal(t, msg{When: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Tags: []string{"x"}}, m.Interface())
}

// TestHostFuncStructs: a host function takes and returns structs by the
// same rules; a dict that does not fit raises TypeError naming the field.
func TestHostFuncStructs(t *testing.T) {
	require.NoError(t, rt.RegisterFunc("hf_article", func(a Article) (Article, error) {
		a.Title += "!"
		a.ReadFor += time.Second
		return a, nil
	}))
	require.NoError(t, rt.RegisterFunc("hf_bytes", func(b []byte) string { return string(b) }))
	in := newInterp(t)
	src := `
import subinterp, datetime
assert subinterp.host.hf_bytes(bytearray(b"ba")) == "ba"
assert subinterp.host.hf_bytes(memoryview(b"xmv")[1:]) == "mv"
got = subinterp.host.hf_article({"title": "hi", "read_for": datetime.timedelta(seconds=1), "tags": ["x"]})
try:
    subinterp.host.hf_article({"title": 1})
except TypeError as e:
    err = str(e)
`
	require.NoError(t, in.Exec(bg, src))
	got, err := cpython.EvalAs[Article](bg, in, "got")
	require.NoError(t, err)
	assert.Equal(t, Article{Title: "hi!", ReadFor: 2 * time.Second, Tags: []string{"x"}}, got)
	msg, err := in.Eval(bg, "err")
	require.NoError(t, err)
	assert.Contains(t, msg, `argument 1: cannot convert: Python int to Go string at ["title"] (field Article.Title)`)
}

// TestPackageDocSnippet runs the package comment's example (after its
// Initialize) so that it stays true.
func TestPackageDocSnippet(t *testing.T) {
	in := newInterp(t)
	ctx := bg
	require.NoError(t, in.Exec(ctx, "def score(doc, *, weight=1): return weight * len(doc['text'].split())"))
	type Doc struct {
		Text string `json:"text"`
	}
	n, err := cpython.CallAs[int](ctx, in, "score", Doc{"to be or not to be"}, cpython.Kwargs{"weight": 2})
	require.NoError(t, err)
	assert.Equal(t, 12, n)
	var rf *cpython.RunFailedError
	_, err = in.Call(ctx, "score", "not a dict")
	require.True(t, errors.As(err, &rf))
	assert.Equal(t, "TypeError", rf.Type)
}

// TestConcurrentDatetimeImports: own-GIL interpreters converting
// time.Time values (which imports datetime in each) at the same time, then
// ending, must not corrupt the heap (before CPython 3.14 this aborted the
// process unless the main interpreter had imported _datetime first, which
// si_runtime_init does; TestConcurrentDatetimeImportAndClose covers the
// plain import).
func TestConcurrentDatetimeImports(t *testing.T) {
	for round := 0; round < 8; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in, err := rt.NewInterpreter(cpython.IsolatedConfig())
				if err != nil {
					errs <- err
					return
				}
				_, err = in.Call(bg, "str", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
				if cerr := in.Close(); err == nil {
					err = cerr
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
}
