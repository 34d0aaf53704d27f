package cpython_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// The whole model: start CPython once, create an interpreter (its own GIL
// and OS thread), run code in it, call functions with Go values and get Go
// values back. (This example starts CPython itself, so the tests run it in
// a process of its own; the other examples use rt, the Runtime the tests
// started the same way.)
func Example() {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Finalize()

	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Exec(ctx, "def score(doc):\n    return len(doc.split())"); err != nil {
		log.Fatal(err)
	}
	n, err := in.Call(ctx, "score", "to be or not to be")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v (%T)\n", n, n)

	// CallAs converts the result to the Go type you name.
	words, err := cpython.CallAs[[]string](ctx, in, "str.split", "a b c")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(words)
	// Output:
	// 6 (int64)
	// [a b c]
}

// A Pool keeps warm interpreters that all ran the prelude; Call takes an
// idle one (or queues) and passes keyword arguments as a trailing Kwargs.
func ExamplePool() {
	ctx := context.Background()
	pool, err := cpython.NewPool(rt, cpython.PoolOptions{
		Size:    2,
		Prelude: "import json\ndef render(doc, **opts):\n    return json.dumps(doc, **opts)",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close(ctx)

	s, err := cpython.CallAs[string](ctx, pool, "render", map[string]any{"b": 1, "a": []int{2}},
		cpython.Kwargs{"sort_keys": true, "separators": channel.Tuple{",", ":"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s)
	// Output: {"a":[2],"b":1}
}

// Go structs cross as dicts keyed by their json names, and results convert
// back into structs; time.Time and time.Duration are datetime and
// timedelta in Python.
func ExampleCallAs() {
	type Order struct {
		ID    int           `json:"id"`
		Items []string      `json:"items"`
		Note  string        `json:"note,omitempty"`
		Due   time.Time     `json:"due"`
		Took  time.Duration `json:"took"`
	}
	ctx := context.Background()
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	err = in.Exec(ctx, `
import datetime
def ship(order):
    order["items"].append("box")
    order["due"] += datetime.timedelta(days=1)
    order["took"] *= 2
    return order
`)
	if err != nil {
		log.Fatal(err)
	}
	o := Order{ID: 7, Items: []string{"pen"}, Due: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Took: 1500 * time.Millisecond}
	shipped, err := cpython.CallAs[Order](ctx, in, "ship", o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shipped.ID, shipped.Items, shipped.Due.Format(time.DateOnly), shipped.Took)

	// A result that does not fit names the place, the field and both types.
	_, err = cpython.EvalAs[Order](ctx, in, `{"id": 1, "items": ["a", 2]}`)
	fmt.Println(err)
	// Output:
	// 7 [pen box] 2026-12-02 3s
	// subinterp: result of "{\"id\": 1, \"items\": [\"a\", 2]}": cannot convert: Python int to Go string at ["items"][1] (field Order.Items)
}

// An exception Python does not catch is a *RunFailedError with the
// exception's type, message and traceback.
func ExampleRunFailedError() {
	ctx := context.Background()
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()

	_, err = in.Call(ctx, "json.loads", "{not json")
	var rf *cpython.RunFailedError
	if errors.As(err, &rf) {
		fmt.Println(rf.Type)
		fmt.Println(rf.Message)
		fmt.Println(strings.Contains(rf.Traceback, "Traceback (most recent call last)"))
	}
	// Output:
	// json.decoder.JSONDecodeError
	// Expecting property name enclosed in double quotes: line 1 column 2 (char 1)
	// true
}

// When a call's context ends, the Python code is interrupted; the error is
// an *InterruptedError that matches the context's error.
func ExampleInterruptedError() {
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	// How long a call whose context ended waits for the code to stop (it
	// is 250 ms by default; code inside a C call stops only when the call
	// returns, and Stopped is false if that takes longer).
	in.SetInterruptGrace(10 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = in.Exec(ctx, "while True:\n    pass")
	var ie *cpython.InterruptedError
	if errors.As(err, &ie) {
		fmt.Println(errors.Is(err, context.DeadlineExceeded), ie.Stopped)
	}
	// The interpreter is fine afterwards.
	v, err := in.Eval(context.Background(), "1 + 1")
	fmt.Println(v, err)
	// Output:
	// true true
	// 2 <nil>
}

// Python produces rows on a channel that Go drains. Whatever happens to
// the producer, Go closes the channel when the call returns, so the loop
// ends after the last row instead of waiting forever, and the producer's
// error is reported.
func ExampleRuntime_Channels() {
	ctx := context.Background()
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	err = in.Exec(ctx, `
def produce(out):
    for row in ["a", "b", "c"]:
        out.send(row)  # waits until Go has taken it
    raise ValueError("row 4 is corrupt")
`)
	if err != nil {
		log.Fatal(err)
	}

	rows, out, err := rt.Channels().Create(channel.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Release()
	defer out.Release()
	produced := make(chan error, 1)
	go func() {
		_, err := in.Call(ctx, "produce", out)
		out.Close() // no more rows: Recv returns what is queued, then ErrClosed
		produced <- err
	}()
	for {
		row, err := rows.Recv(ctx)
		if errors.Is(err, channel.ErrClosed) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("row", row)
	}
	var rf *cpython.RunFailedError
	if err := <-produced; errors.As(err, &rf) {
		fmt.Println("producer failed:", rf.Type, rf.Message)
	}
	// Output:
	// row a
	// row b
	// row c
	// producer failed: ValueError row 4 is corrupt
}

// A Go function registered once is callable from Python in every
// interpreter as subinterp.host.<name>; its arguments convert like
// CallAs results (here a dict into a struct), its result like Call's
// arguments.
func ExampleRuntime_RegisterFunc() {
	type Point struct {
		X, Y float64
	}
	err := rt.RegisterFunc("example_norm", func(p Point) float64 { return p.X*p.X + p.Y*p.Y })
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	err = in.Exec(ctx, "import subinterp\nprint(subinterp.host.example_norm({'X': 3, 'Y': 4}))", cpython.WithStdout(&out))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())
	// Output: 25.0
}

// Per-call options: what the function prints goes to the writer given,
// as with Exec.
func ExampleWithStdout() {
	ctx := context.Background()
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	if _, err := in.Call(ctx, "print", "hello", cpython.Kwargs{"end": "!\n"}, cpython.WithStdout(&out)); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", out.String())
	// Output: "hello!\n"
}
