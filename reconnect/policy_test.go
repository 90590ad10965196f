package reconnect_test

import (
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/reconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fixed(f float64) func() float64 { return func() float64 { return f } }

func TestDelaySequence(t *testing.T) {
	p := reconnect.Policy{Min: time.Second, Max: 60 * time.Second, Rand: fixed(0)}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := p.Delay(i); got != w {
			t.Errorf("Delay(%d) with Rand=0 = %v, want %v", i, got, w)
		}
	}
	p.Rand = fixed(0.5)
	if got, want := p.Delay(3), 6*time.Second; got != want {
		t.Errorf("Delay(3) with Rand=0.5 = %v, want %v", got, want)
	}
}

func TestDelayBounds(t *testing.T) {
	for _, f := range []float64{0, 0.25, 0.999999, 1, 7, -3, math.NaN()} {
		p := reconnect.Policy{Min: 100 * time.Millisecond, Max: 10 * time.Second, Rand: fixed(f)}
		for n := -2; n < 40; n++ {
			c := p.Ceiling(n)
			if d := p.Delay(n); d < c/2 || d >= c {
				t.Fatalf("Rand=%v Delay(%d)=%v outside [%v, %v)", f, n, d, c/2, c)
			}
			if d := p.Delay(n); d < p.Min/2 {
				t.Fatalf("Rand=%v Delay(%d)=%v below Min/2", f, n, d)
			}
		}
	}
}

func TestCeilingCapAndNoOverflow(t *testing.T) {
	cases := []struct {
		p       reconnect.Policy
		attempt int
		want    time.Duration
	}{
		{reconnect.Policy{}, 0, time.Second},
		{reconnect.Policy{}, 5, 32 * time.Second},
		{reconnect.Policy{}, 6, 60 * time.Second},
		{reconnect.Policy{}, 100, 60 * time.Second},
		{reconnect.Policy{}, math.MaxInt, 60 * time.Second},
		{reconnect.Policy{}, -5, time.Second},
		{reconnect.Policy{Min: time.Nanosecond, Max: math.MaxInt64}, 100, math.MaxInt64},
		{reconnect.Policy{Min: math.MaxInt64 / 3, Max: math.MaxInt64}, 100, math.MaxInt64},
		{reconnect.Policy{Min: time.Minute, Max: time.Second}, 0, time.Second}, // Min > Max
	}
	for _, c := range cases {
		got := c.p.Ceiling(c.attempt)
		if got != c.want {
			t.Errorf("%+v Ceiling(%d) = %v, want %v", c.p, c.attempt, got, c.want)
		}
		if d := c.p.Delay(c.attempt); d <= 0 || d > got {
			t.Errorf("%+v Delay(%d) = %v, want in (0, %v]", c.p, c.attempt, d, got)
		}
	}
}

func TestMaxAttempt(t *testing.T) {
	cases := []struct {
		p    reconnect.Policy
		want int
	}{
		{reconnect.Policy{}, 6}, // 1s·2⁶ = 64s ≥ 60s
		{reconnect.Policy{Min: time.Second, Max: 8 * time.Second}, 3},    // exact power
		{reconnect.Policy{Min: time.Second, Max: time.Second}, 0},        // no growth
		{reconnect.Policy{Min: time.Nanosecond, Max: math.MaxInt64}, 63}, // no overflow
	}
	for _, c := range cases {
		n := c.p.MaxAttempt()
		if n != c.want {
			t.Errorf("%+v MaxAttempt() = %d, want %d", c.p, n, c.want)
		}
		_, hi := c.p.Ceiling(n), c.p.Ceiling(math.MaxInt)
		if c.p.Ceiling(n) != hi || (n > 0 && c.p.Ceiling(n-1) == hi) {
			t.Errorf("%+v MaxAttempt() = %d is not the first attempt at the cap", c.p, n)
		}
	}
}
