//go:build !amd64

package bundle

import "syscall"

// sysSyncfs is syncfs(2)'s number.
const sysSyncfs = syscall.SYS_SYNCFS
