package bindings

/*
#include "bindings.h"
*/
import "C"

import "fmt"

// GuardSignals makes Python code in the current interpreter unable to take
// the process's signals over from Go: signal.signal, signal.set_wakeup_fd,
// signal.siginterrupt, faulthandler.enable and faulthandler.register raise
// RuntimeError (signal.getsignal and faulthandler's dump functions keep
// working). Go installs its own signal handlers; one replaced by Python
// stops os/signal.Notify deliveries, and faulthandler's turn the faults Go
// recovers from (nil dereferences) into a dead process. Call it with the
// interpreter's GIL held, in every interpreter right after it is made, and
// first in the main interpreter before any other exists (that call also
// redirects the builtin modules' method tables; see signals.c).
func GuardSignals() error {
	if C.si_guard_signals() < 0 {
		return fmt.Errorf("subinterp: guarding signals: %w", takeException())
	}
	return nil
}
