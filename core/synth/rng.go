package synth

import "math/bits"

// rng is a splitmix64 generator. It is tiny, fast, and stable across Go
// releases, which matters more here than statistical quality: the output of
// a (Seed, patient) pair must never change under a toolchain upgrade.
type rng struct{ s uint64 }

// mix64 is the splitmix64 finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRNG seeds a generator for one stream of one population. Streams are
// patient indexes; shared resources use streams far above any patient.
func newRNG(seed int64, stream uint64) rng {
	s := mix64(uint64(seed) + 0x9e3779b97f4a7c15)
	s = mix64(s ^ (stream+1)*0xd1342543de82ef95)
	return rng{s: s}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// intn returns a value in [0, n). n must be > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// int64n returns a value in [0, n). n must be > 0.
func (r *rng) int64n(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// pct reports true with probability p/100.
func (r *rng) pct(p int) bool { return r.intn(100) < p }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// normal returns an approximately normal value (Irwin-Hall with 4 terms,
// variance scaled to sd²), cheap and bounded to mean ± 3.46 sd.
func (r *rng) normal(mean, sd float64) float64 {
	s := r.float() + r.float() + r.float() + r.float() - 2
	return mean + s*sd*1.7320508075688772
}
