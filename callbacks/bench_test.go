package callbacks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkScheduleAndClaim measures callbacks created and claimed per
// second against a real redis-server: b.N callbacks are created by 4
// goroutines (one script each, with the merge check; a number repeats only
// in another queue, so none merge), then claimed by 4 goroutines in
// batches of 50.
//
//	go test ./callbacks -run '^$' -bench BenchmarkScheduleAndClaim -benchtime 20000x -count 3
func BenchmarkScheduleAndClaim(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	const workers, batch = 4, 50
	b.ResetTimer()
	start := time.Now()

	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if _, _, err := s.Create(ctx, Request{Queue: fmt.Sprintf("q%d", i/10000), Number: fmt.Sprintf("+1202555%04d", i%10000)}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	var claimed atomic.Int64
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for claimed.Load() < int64(b.N) {
				got, err := s.Claim(ctx, fmt.Sprintf("n%d", g), time.Minute, batch)
				if err != nil {
					b.Error(err)
					return
				}
				claimed.Add(int64(len(got)))
				if len(got) == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if claimed.Load() != int64(b.N) {
		b.Fatalf("claimed %d of %d", claimed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "callbacks/s")
}
