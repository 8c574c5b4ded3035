package calsync_test

import "runtime"

func runtimeGosched() { runtime.Gosched() }
