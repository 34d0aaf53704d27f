// Command httpservice is a small HTTP service backed by a pool of Python
// interpreters: POST /score runs a CPU-bound pure-Python document scorer
// (score.py: tf-idf against a built-in corpus) with a per-request deadline,
// each interpreter with its own GIL, so requests use every core.
//
//	httpservice -addr 127.0.0.1:8080 -pool-size 2 -timeout 2s
//	curl -s -d '{"text": "the telescope saw a distant galaxy", "top": 2}' localhost:8080/score
//
// It also serves /healthz and /metrics (Prometheus text format), and shuts
// down gracefully on SIGINT or SIGTERM. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "httpservice:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (port 0: any free port)")
	size := flag.Int("pool-size", 0, "interpreters in the pool (0: one per CPU; 1 with -shared-gil)")
	sharedGIL := flag.Bool("shared-gil", false, "use LegacyConfig interpreters sharing the main GIL, for contrast (one unless -pool-size says otherwise)")
	timeout := flag.Duration("timeout", 2*time.Second, "per-request deadline, queueing included; Python still running then is interrupted")
	maxTasks := flag.Int("max-tasks", 0, "replace an interpreter after this many requests (0: never)")
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second, "how long shutdown waits for requests in flight")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	cfg := cpython.IsolatedConfig()
	if *sharedGIL {
		cfg = cpython.LegacyConfig()
		sizeSet := false
		flag.Visit(func(f *flag.Flag) { sizeSet = sizeSet || f.Name == "pool-size" })
		if !sizeSet {
			*size = 1
		}
	}
	if *size < 0 {
		return fmt.Errorf("-pool-size %d: must be 0 (one per CPU) or more", *size)
	}
	if *timeout <= 0 {
		return fmt.Errorf("-timeout %v: must be positive", *timeout)
	}

	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
	if err != nil {
		return err
	}
	defer func() {
		if err := rt.Finalize(); err != nil {
			log.Error("finalize", "err", err)
		}
	}()
	start := time.Now()
	pool, err := cpython.NewPool(rt, cpython.PoolOptions{
		Name:                   "score",
		Size:                   *size,
		Config:                 &cfg,
		Prelude:                scorePy,
		MaxTasksPerInterpreter: *maxTasks,
		OnBackgroundError:      func(err error) { log.Error("pool", "err", err) },
	})
	if err != nil {
		return err
	}
	st := pool.Stats()
	log.Info("pool ready", "interpreters", st.Size, "own_gil", cfg.OwnGIL, "took", time.Since(start).Round(time.Millisecond), "cpus", runtime.NumCPU())

	svc := newService(pool, "score", *timeout, log)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = pool.Close(context.Background())
		return err
	}
	// The load test reads this line to find the port.
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{
		Handler:           svc.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-served:
		_ = pool.Close(context.Background())
		return err
	}
	stop() // a second signal kills the process the default way

	svc.closing.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	// Requests still running after Shutdown gave up are interrupted here.
	pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer pcancel()
	if err := pool.Close(pctx); err != nil {
		errs = append(errs, err)
	}
	st = pool.Stats()
	log.Info("stopped", "completed", st.Completed, "failed", st.Failed, "replaced", st.Replaced)
	return errors.Join(errs...)
}
