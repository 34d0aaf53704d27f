// Package channel implements PEP 554 channels in Go memory, owned by no
// interpreter, and the values that cross them.
//
// # Values
//
// Objects never cross between interpreters; their data does. A value is
// encoded into a Message (the wire format is documented byte by byte in
// codec.go: Encode, Decode) by the sender and decoded by the receiver, in
// Go or in C (bindings/ mirrors the codec). Normalize gives the canonical
// Go form (Go structs become dicts keyed by their json names, time.Time and
// time.Duration datetime and timedelta), and ConvertTo turns a canonical
// value into any Go type it fits (a dict into a struct, a list into a
// slice), with a *ConvertError naming the place, the field and both types
// when it does not. Out-of-band buffers (send_buffer) are copied once into a
// channel-owned, reference-counted Buffer and received as a read-only
// *BufferView over that memory, with no second copy.
//
// # Channels
//
// A Registry (one per runtime) creates channels and finds them by id.
// Create returns a (*RecvChannel, *SendChannel) pair sharing an ID.
// Channels are many-to-many and FIFO:
//
//   - SendChannel.Send waits until a receiver has taken the value; if its
//     context ends first the value is withdrawn (ErrNotReceived).
//   - SendNowait queues the value and reports whether a receiver was
//     already waiting for it.
//   - RecvChannel.Recv waits for a value; RecvNowait does not.
//   - Registry.Select receives from the first ready of several channels,
//     choosing at random among ready ones.
//   - Options.Capacity bounds the queue (Send waits for room, SendNowait
//     gets ErrFull); Options.MaxBytes bounds one value (ErrTooLarge).
//
// The *Msg variants move encoded Messages instead of Go values; bindings/
// uses them.
//
// # Close
//
// Close closes the channel (either end closes both): new sends fail with
// ErrClosed at once; values already queued, including those of blocking
// senders still waiting for receipt, stay and are drained by receivers,
// which then get ErrClosed; receivers blocked on an empty channel wake at
// once with ErrClosed; senders still waiting for room in a full bounded
// queue get ErrNotReceived. CloseNow(false) closes only an empty channel
// (else ErrNotEmpty); CloseNow(true) drops what is queued.
//
// # Bindings and lifetime
//
// A channel lives while any end is bound. Each side counts its bindings:
// Bind adds one, Release drops one. Create returns ends with one binding
// each, owned by the caller. The Python side binds an end once per
// interpreter that holds it and releases it when that interpreter drops it.
// A value in flight binds the ends it contains (see Message) so a channel
// sent through another channel cannot vanish on the way; ends received by
// Go code (Recv, Select) arrive with that binding, now the caller's. When
// the last binding of both sides is released, the channel closes as with
// CloseNow(true) and leaves the Registry (Lookup then gives ErrNotFound).
// A closed channel stays in the Registry until then. Channels that only
// values queued in channels keep alive (an end sent through its own
// channel, two channels each holding the other's end, ...) and that
// nothing outside the queues can reach are freed the same way, as soon
// as the last binding from outside is released (see
// Registry.collectCycles). Registry.Close frees everything at shutdown.
//
// # Why waits spin before they park
//
// On the 2-core VMs this project targets, waking a parked goroutine costs
// about 30 µs when an OS-thread-locked goroutine (every interpreter's) is
// involved, while a spinning waiter sees a change in well under a
// microsecond. A blocked receiver therefore registers a waiter in the
// channel; a sender hands its Message straight to the first waiting
// receiver (writing it into the waiter) and notifies the waiter's
// handoff.Signal: a real wake-up, never a poll. Every wait (Recv, Select,
// Send waiting for receipt or for room) first polls its waiter's state
// for a few microseconds, then spins in Signal.Wait (yielding the OS
// thread) for handoff.DefaultBudget, and only then parks; so back-to-back
// handoffs stay around a microsecond while an idle waiter stops burning
// CPU after ~55 µs. wait.go has the details and the measurements. Waiters
// and their Signals are pooled per Registry; the package has no mutable
// global state.
//
// # Errors
//
// Errors wrap the sentinels ErrClosed, ErrNotFound, ErrNotEmpty,
// ErrNotReceived, ErrTooLarge, ErrFull, ErrCorrupt and ErrNotShareable
// (test with errors.Is) and name the channel id. ErrDuplicateKey, a dict
// whose keys Python would merge, comes with ErrNotShareable. An empty
// channel is no error: the nowait receives report it as ok == false.
package channel
