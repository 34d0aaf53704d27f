// Command loadtest drives the httpservice example on loopback and prints
// requests/s and p50/p99 latency for pools of 1..NumCPU own-GIL
// interpreters and for shared-GIL interpreters, for contrast.
//
// By default it builds the service (go build, so run it with the cgo
// environment of scripts/python.sh), starts one service process per
// configuration on 127.0.0.1 with a free port, sends a bounded number of
// requests with bounded concurrency, stops the process with SIGTERM and
// moves on. With -url it drives a service that is already running (on
// loopback only) and prints one row.
//
//	eval "$(scripts/python.sh)" && go run ./examples/httpservice/loadtest
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type config struct {
	name      string
	size      int
	sharedGIL bool
}

type result struct {
	cfg      config
	requests int
	errors   int
	codes    map[int]int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func run() error {
	target := flag.String("url", "", "drive this running service (loopback only) instead of starting one per configuration")
	bin := flag.String("bin", "", "service binary to start (default: go build ./examples/httpservice into a temporary directory)")
	requests := flag.Int("requests", 600, "measured requests per configuration")
	warmup := flag.Int("warmup", 30, "unmeasured requests first, per configuration")
	concurrency := flag.Int("concurrency", 2*runtime.NumCPU(), "requests in flight at once")
	words := flag.Int("words", 1000, "words per scored document")
	timeout := flag.Duration("timeout", 10*time.Second, "the service's per-request deadline")
	maxSize := flag.Int("max-size", runtime.NumCPU(), "largest own-GIL pool to measure")
	flag.Parse()
	if *requests < 1 || *concurrency < 1 || *warmup < 0 || *words < 1 || *maxSize < 1 {
		return errors.New("-requests, -concurrency, -words and -max-size must be positive, -warmup not negative")
	}
	docs := documents(64, *words)
	client := &http.Client{
		Timeout:   *timeout + 5*time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency, MaxConnsPerHost: *concurrency},
	}
	fmt.Printf("loadtest: %d requests (after %d warm-up) per configuration, %d in flight, %d-word documents, %d CPUs\n",
		*requests, *warmup, *concurrency, *words, runtime.NumCPU())

	if *target != "" {
		base, err := loopbackURL(*target)
		if err != nil {
			return err
		}
		r, err := drive(client, base, docs, *warmup, *requests, *concurrency)
		if err != nil {
			return err
		}
		r.cfg = config{name: "running service " + base}
		printTable([]result{r})
		return nil
	}

	if *bin == "" {
		dir, err := os.MkdirTemp("", "httpservice-loadtest")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "httpservice")
		fmt.Println("loadtest: building the service")
		build := exec.Command("go", "build", "-o", *bin, "github.com/subinterp/subinterp/examples/httpservice")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build (did you eval \"$(scripts/python.sh)\" first?): %w", err)
		}
	}

	var cfgs []config
	for n := 1; n <= *maxSize; n++ {
		cfgs = append(cfgs, config{"own GIL", n, false})
	}
	cfgs = append(cfgs, config{"shared GIL", 1, true})
	if *maxSize > 1 {
		cfgs = append(cfgs, config{"shared GIL", *maxSize, true})
	}
	var results []result
	for _, cfg := range cfgs {
		fmt.Printf("loadtest: %s, %d interpreter(s)\n", cfg.name, cfg.size)
		r, err := measure(*bin, cfg, client, docs, *warmup, *requests, *concurrency, *timeout)
		if err != nil {
			return fmt.Errorf("%s, %d interpreters: %w", cfg.name, cfg.size, err)
		}
		results = append(results, r)
	}
	printTable(results)
	return nil
}

// loopbackURL accepts only http URLs on a loopback address.
func loopbackURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "http" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return "", fmt.Errorf("-url %q: only http://127.0.0.1:PORT (loopback) is allowed", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// measure starts the service with cfg, drives it and stops it.
func measure(bin string, cfg config, client *http.Client, docs [][]byte, warmup, n, concurrency int, timeout time.Duration) (result, error) {
	args := []string{"-addr", "127.0.0.1:0", "-pool-size", fmt.Sprint(cfg.size), "-timeout", timeout.String()}
	if cfg.sharedGIL {
		args = append(args, "-shared-gil")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("the service did not stop within 30 s of SIGTERM; killed")
		}
	}
	// The service prints "listening on http://ADDR" once it serves.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	var base string
	select {
	case base = <-addr:
	case err := <-exited:
		return result{}, fmt.Errorf("the service exited before serving: %v", err)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return result{}, errors.New("the service did not start within 60 s")
	}
	r, err := drive(client, base, docs, warmup, n, concurrency)
	r.cfg = cfg
	if serr := stop(); serr != nil && err == nil {
		err = fmt.Errorf("stopping the service: %w", serr)
	}
	client.CloseIdleConnections()
	return r, err
}

// drive sends warmup unmeasured requests, then n measured ones, with
// concurrency requests in flight.
func drive(client *http.Client, base string, docs [][]byte, warmup, n, concurrency int) (result, error) {
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		return result{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return result{}, fmt.Errorf("/healthz: %s", resp.Status)
	}
	if _, _, err := burst(client, base, docs, warmup, concurrency); err != nil {
		return result{}, err
	}
	start := time.Now()
	lat, codes, err := burst(client, base, docs, n, concurrency)
	elapsed := time.Since(start)
	if err != nil {
		return result{}, err
	}
	slices.Sort(lat)
	r := result{requests: n, codes: codes, elapsed: elapsed, p50: quantile(lat, 0.50), p99: quantile(lat, 0.99)}
	for code, c := range codes {
		if code != http.StatusOK {
			r.errors += c
		}
	}
	return r, nil
}

// burst sends n requests from concurrency goroutines; it returns each
// request's latency and the count of each status code.
func burst(client *http.Client, base string, docs [][]byte, n, concurrency int) ([]time.Duration, map[int]int, error) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	codes := map[int]int{}
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range next {
				start := time.Now()
				resp, err := client.Post(base+"/score", "application/json", bytes.NewReader(docs[i%len(docs)]))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(start)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					lat = append(lat, d)
					codes[resp.StatusCode]++
				}
				mu.Unlock()
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return lat, codes, firstErr
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}

// documents makes n request bodies of about words words each, drawn from
// the service's topics and some filler, deterministically.
func documents(n, words int) [][]byte {
	vocab := strings.Fields(`telescope galaxy redshift star planet orbit spectrum
		sauce roast butter simmer flavour season stock interest bond portfolio
		inflation index router packet latency bandwidth congestion tomato compost
		prune mulch soil midfielder striker goalkeeper press vaccine antibiotic
		trial placebo orchestra harmony melody rhythm contract statute precedent
		court magma sediment tectonics mountain compiler function module test
		processor carbon glacier emission solar wind sail keel tide squall
		aperture shutter exposure tripod opening bishop endgame pawn arch beam
		timber concrete queen hive nectar honey espresso grind roast extraction
		rail signal timetable locomotive eruption lava ash earthquake
		report meeting project people system process result level market number`)
	filler := strings.Fields("the a of and in to with for on is was that it by as at from")
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		var b strings.Builder
		for w := range words {
			if w > 0 {
				b.WriteByte(' ')
			}
			if rng.IntN(3) == 0 {
				b.WriteString(filler[rng.IntN(len(filler))])
			} else {
				b.WriteString(vocab[rng.IntN(len(vocab))])
			}
		}
		body, _ := json.Marshal(map[string]any{"text": b.String(), "top": 3})
		out[i] = body
	}
	return out
}

func printTable(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tinterpreters\trequests\tnon-200\treq/s\tp50 ms\tp99 ms\tvs own GIL x1\t")
	var base float64
	for _, r := range results {
		rps := float64(r.requests) / r.elapsed.Seconds()
		if base == 0 && !r.cfg.sharedGIL {
			base = rps
		}
		rel := "-"
		if base > 0 {
			rel = fmt.Sprintf("%.2fx", rps/base)
		}
		size := "-"
		if r.cfg.size > 0 {
			size = fmt.Sprint(r.cfg.size)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\t\n", r.cfg.name, size, r.requests, r.errors, rps,
			ms(r.p50), ms(r.p99), rel)
	}
	tw.Flush()
	for _, r := range results {
		if r.errors > 0 {
			fmt.Printf("%s x%d: status codes %v\n", r.cfg.name, r.cfg.size, r.codes)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
