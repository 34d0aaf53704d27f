package channel

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"
)

// One goroutine: queue a value, take it back.
func BenchmarkSendNowaitRecv(b *testing.B) {
	_, rc, sc := newChan(b, Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := sc.SendNowait(i); err != nil {
			b.Fatal(err)
		}
		if _, err := rc.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// The same with pre-encoded Messages, as the bindings use it.
func BenchmarkSendMsgNowaitRecvMsg(b *testing.B) {
	_, rc, sc := newChan(b, Options{})
	ctx := context.Background()
	data, err := Encode(int64(42))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sc.SendMsgNowait(NewMessage(data)); err != nil {
			b.Fatal(err)
		}
		m, err := rc.RecvMsg(ctx)
		if err != nil {
			b.Fatal(err)
		}
		m.Release()
	}
}

// Two goroutines, blocking Send and Recv both ways: one op is a round trip
// (two handoffs to a waiting receiver).
func BenchmarkPingPong(b *testing.B) {
	reg := NewRegistry()
	pingR, pingS, _ := reg.Create(Options{})
	pongR, pongS, _ := reg.Create(Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			v, err := pingR.Recv(ctx)
			if err != nil {
				return // closed at the end
			}
			if err := pongS.Send(ctx, v); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := pingS.Send(ctx, i); err != nil {
			b.Fatal(err)
		}
		if _, err := pongR.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	_ = pingS.Close()
	wg.Wait()
}

// Select over 4 channels, a value ready on a rotating one; and a blocked
// Select woken by a sender on another goroutine (one op = a round trip).
func BenchmarkSelect(b *testing.B) {
	setup := func() (*Registry, []*RecvChannel, []*SendChannel) {
		reg := NewRegistry()
		var rs []*RecvChannel
		var ss []*SendChannel
		for i := 0; i < 4; i++ {
			rc, sc, _ := reg.Create(Options{})
			rs, ss = append(rs, rc), append(ss, sc)
		}
		return reg, rs, ss
	}
	ctx := context.Background()
	b.Run("ready", func(b *testing.B) {
		reg, rs, ss := setup()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ss[i&3].SendNowait(i); err != nil {
				b.Fatal(err)
			}
			if _, _, err := reg.Select(ctx, rs...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pingpong", func(b *testing.B) {
		reg, rs, ss := setup()
		back, backS, _ := reg.Create(Options{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, v, err := reg.Select(ctx, rs...)
				if err != nil {
					return
				}
				if err := backS.Send(ctx, v); err != nil {
					return
				}
			}
		}()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := ss[i&3].Send(ctx, i); err != nil {
				b.Fatal(err)
			}
			if _, err := back.Recv(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reg.CloseAll()
		wg.Wait()
	})
}

func BenchmarkEncodeDecode(b *testing.B) {
	v := Dict{{"id", int64(7)}, {"name", "widget"}, {"tags", []any{"a", "b"}}, {"price", 9.5}}
	b.ReportAllocs()
	for b.Loop() {
		data, err := Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// benchOrder is a struct as a service would pass one: the struct rules'
// cost (field lookup, json names, omitempty, a nested slice of structs, a
// time) against the same value built as a Dict by hand.
type benchOrder struct {
	ID    int64             `json:"id"`
	User  string            `json:"user"`
	Note  string            `json:"note,omitempty"`
	Lines []benchLine       `json:"lines"`
	Meta  map[string]string `json:"meta"`
	Due   time.Time         `json:"due"`
}

type benchLine struct {
	SKU string  `json:"sku"`
	Qty int     `json:"qty"`
	Px  float64 `json:"px"`
}

func benchOrderValue() benchOrder {
	return benchOrder{ID: 7, User: "ann", Lines: []benchLine{{"a", 1, 2.5}, {"b", 2, 1}, {"c", 3, 9.75}},
		Meta: map[string]string{"src": "web"}, Due: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
}

func BenchmarkEncodeStruct(b *testing.B) {
	o := benchOrderValue()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSameDict(b *testing.B) {
	o := benchOrderValue()
	v, err := Normalize(o)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConvertToStruct(b *testing.B) {
	v, err := Normalize(benchOrderValue())
	if err != nil {
		b.Fatal(err)
	}
	t := reflect.TypeFor[benchOrder]()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ConvertTo(v, t); err != nil {
			b.Fatal(err)
		}
	}
}
