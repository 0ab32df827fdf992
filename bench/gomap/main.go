// The reference side of `scripts/map-vs-go`: Go's built-in map[string]string running the workload of
// `kvbench map` (Sources/kvbench/MapBench.swift) on keys made the same way, so the two can be printed
// side by side in one run.
//
// Keys, misses and values are 16 random bytes each from SplitMix64 with the same seeds as kvbench
// (1, 2, 3), back to back in flat buffers; queries are the keys shuffled. The timed phases use strings
// built from them beforehand (Go's best case: no conversion or allocation of key strings while timed).
// Bytes per entry: live heap after building a map from the byte buffers minus before, over the key count,
// after a GC: key and value strings included, as in ours.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type splitMix64 struct{ s uint64 }

func (r *splitMix64) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func keySet(n int, seed uint64) []byte {
	b := make([]byte, n*16)
	r := splitMix64{seed}
	for i := 0; i < n*2; i++ {
		v := r.next()
		for j := 0; j < 8; j++ {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func run(n int) {
	keys, misses, values := keySet(n, 1), keySet(n, 2), keySet(n, 3)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	r := splitMix64{4}
	for i := n - 1; i > 0; i-- {
		j := int(r.next() % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	queries := make([]byte, n*16)
	for i, j := range perm {
		copy(queries[i*16:i*16+16], keys[j*16:j*16+16])
	}
	k := func(b []byte, i int) []byte { return b[i*16 : i*16+16] }
	strs := func(b []byte) []string {
		a := make([]string, n)
		for i := range a {
			a[i] = string(k(b, i))
		}
		return a
	}
	ks, qs, ms, vs := strs(keys), strs(queries), strs(misses), strs(values)
	// Writes of existing keys get their own copies of the query strings, allocated in insertion order: an
	// assignment stores its key's pointer in the map (mapassign_faststr, "so it can be garbage
	// collected"), and a later lookup or delete with the very same string would skip the key compare
	// (k.str == key.str), or, with strings allocated in query order, find the keys' bytes streaming
	// through the cache in the order it asks for them; a server's requests, parsed into fresh buffers,
	// get neither.
	ws := make([]string, n)
	inverse := make([]int, n)
	for i, j := range perm {
		inverse[j] = i
	}
	for j := 0; j < n; j++ {
		ws[inverse[j]] = string(k(keys, j))
	}
	ns := func(t time.Time) float64 { return float64(time.Since(t).Nanoseconds()) / float64(n) }

	// Bytes per entry, untimed: a map built from the byte buffers, so that its key and value strings are
	// counted as ours are (the timed map below shares strings built beforehand).
	before := heap()
	sized := make(map[string]string)
	for i := 0; i < n; i++ {
		sized[string(k(keys, i))] = string(k(values, i))
	}
	bytes := float64(heap()-before) / float64(n)
	runtime.KeepAlive(sized)
	sized = nil

	t := time.Now()
	m := make(map[string]string)
	for i := 0; i < n; i++ {
		m[ks[i]] = vs[i]
	}
	insert := ns(t)

	sum := 0
	t = time.Now()
	for i := 0; i < n; i++ {
		sum += len(m[qs[i]])
	}
	hit := ns(t)
	if sum != 16*n {
		panic("lookups missed")
	}
	t = time.Now()
	for i := 0; i < n; i++ {
		sum += len(m[ms[i]])
	}
	miss := ns(t)

	t = time.Now()
	for i := 0; i < n; i++ {
		m[ws[i]] = vs[i]
	}
	overwrite := ns(t)

	t = time.Now()
	r = splitMix64{5}
	for i := 0; i < n; i++ {
		if r.next()&0xff < 205 {
			sum += len(m[qs[i]])
		} else {
			m[ws[i]] = vs[i]
		}
	}
	mixed := ns(t)

	t = time.Now()
	for i := 0; i < n; i++ {
		delete(m, qs[i])
	}
	del := ns(t)
	if len(m) != 0 {
		panic("map not empty")
	}
	fmt.Printf("%d insert %.1f\n%d lookup_hit %.1f\n%d lookup_miss %.1f\n%d overwrite %.1f\n%d delete %.1f\n%d mixed_80/20 %.1f\n%d bytes_per_entry %.1f\n",
		n, insert, n, hit, n, miss, n, overwrite, n, del, n, mixed, n, bytes)
	_ = sum
}

func main() {
	keysFlag := flag.String("keys", "1000000,10000000", "key counts, comma-separated")
	flag.Parse()
	for _, s := range strings.Split(*keysFlag, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			panic(err)
		}
		run(n)
	}
}
