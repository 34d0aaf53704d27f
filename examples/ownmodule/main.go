// Command ownmodule is the program of the README's "Use it from your own
// module" section (ci/own-module.sh builds it in a module of its own):
// four own-GIL interpreters evaluate in parallel, then it says which
// CPython it links.
package main

import (
	"context"
	"fmt"
	"log"
	"sync"

	"github.com/subinterp/subinterp/cpython"
)

func main() {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Finalize()
	ctx := context.Background()

	results := make([]any, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			in, err := rt.NewInterpreter(cpython.IsolatedConfig())
			if err != nil {
				log.Fatal(err)
			}
			defer in.Close()
			if results[i], err = in.Eval(ctx, fmt.Sprintf("%d ** 2", i)); err != nil {
				log.Fatal(err)
			}
		})
	}
	wg.Wait()
	fmt.Printf("interpreters: %d, results: %v\n", len(results), results)
	fmt.Printf("python: %s\n", rt.Version())
	fmt.Printf("debug build: %v\n", rt.Debug())
}
