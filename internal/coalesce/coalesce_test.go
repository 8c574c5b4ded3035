package coalesce

import (
	"errors"
	"sync"
	"testing"
)

func TestBurstFoldsIntoOneFollowUp(t *testing.T) {
	var g Group
	entered, release := make(chan struct{}), make(chan struct{})
	runs := 0
	fn := func() error {
		runs++
		if runs == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	done := make(chan bool)
	go func() { done <- g.Do("k", fn, nil) }()
	<-entered
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if g.Do("k", fn, nil) {
				t.Error("a call made during a run ran fn itself")
			}
		})
	}
	wg.Wait()
	other := false
	if !g.Do("other", func() error { other = true; return nil }, nil) || !other {
		t.Error("another key was held up")
	}
	close(release)
	if !<-done {
		t.Fatal("the first caller did not run")
	}
	if runs != 2 {
		t.Errorf("runs = %d, want 2 (the run and one follow-up)", runs)
	}
	<-g.Wait("k")
}

func TestErrorsReported(t *testing.T) {
	var g Group
	var got []error
	boom := errors.New("boom")
	g.Do("k", func() error { return boom }, func(err error) { got = append(got, err) })
	if len(got) != 1 || got[0] != boom {
		t.Errorf("onErr got %v", got)
	}
	select {
	case <-g.Wait("k"):
	default:
		t.Error("Wait on an idle key does not return at once")
	}
}

// A panicking run releases its key, so the key can run again afterwards.
func TestPanicReleasesKey(t *testing.T) {
	var g Group
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		g.Do("k", func() error { panic("boom") }, nil)
	}()
	select {
	case <-g.Wait("k"):
	default:
		t.Fatal("the key is still held after the panic")
	}
	ran := false
	if !g.Do("k", func() error { ran = true; return nil }, nil) || !ran {
		t.Error("the key cannot run again after a panic")
	}
}
