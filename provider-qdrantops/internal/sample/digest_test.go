package sample

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/quick"

	"github.com/google/go-cmp/cmp"
)

func TestCanonical(t *testing.T) {
	cases := map[string]struct {
		reason  string
		vector  string
		payload string
		want    string
	}{
		"Dense": {"A dense vector's components are float32s at their shortest.",
			`[0.10000000149011612, 1.0, -2.5e-1]`, `{"b":1,"a":"x"}`,
			`{"payload":{"a":"x","b":1},"vector":[0.1,1,-0.25]}`},
		"NullPayload": {"No payload is the empty object.", `[1]`, `null`, `{"payload":{},"vector":[1]}`},
		"NoPayload":   {"Neither is a missing one.", `[1]`, ``, `{"payload":{},"vector":[1]}`},
		"NoVector":    {"A point without vectors has the empty named set.", `null`, `{}`, `{"payload":{},"vector":{}}`},
		"Named": {"Named vectors are sorted by name, each canonical.",
			`{"text":[0.5,0.25],"image":[[1,2],[3,4.000000001]]}`, `{}`,
			`{"payload":{},"vector":{"image":[[1,2],[3,4]],"text":[0.5,0.25]}}`},
		"Sparse": {"A sparse vector's pairs are in index order, indices exact.",
			`{"s":{"values":[0.5,0.25,1],"indices":[4294967295,7,16777217]}}`, `{}`,
			`{"payload":{},"vector":{"s":{"indices":[7,16777217,4294967295],"values":[0.25,1,0.5]}}}`},
		"VectorsNamedLikeSparse": {"At the top a vector named indices is a dense one, components float32.",
			`{"indices":[1.5,16777217],"values":[2,1]}`, `{}`,
			`{"payload":{},"vector":{"indices":[1.5,1.6777216e+07],"values":[2,1]}}`},
		"PayloadNumbers": {"Payload integers stay exact, however large; floats are float64s at their shortest.",
			`[1]`, `{"big":123456789012345678901234567890,"f":0.10000000149011612,"g":1.50,"e":1E2,"neg":-0,"n":[1,2.0]}`,
			`{"payload":{"big":123456789012345678901234567890,"e":100,"f":0.10000000149011612,"g":1.5,"n":[1,2],"neg":0},"vector":[1]}`},
		"Strings": {"Strings are re-encoded by one encoder, whatever escapes the server used.",
			`[1]`, `{"s":"\u00e9\/\u003c","t":"é/<"}`,
			`{"payload":{"s":"é/\u003c","t":"é/\u003c"},"vector":[1]}`},
		"Nested": {"Nested payload objects are sorted too.",
			`[1]`, "{\n \"o\": {\"z\": true, \"a\": [null, {\"y\": 1, \"x\": 2}]}\n}",
			`{"payload":{"o":{"a":[null,{"x":2,"y":1}],"z":true}},"vector":[1]}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Canonical(json.RawMessage(tc.vector), json.RawMessage(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("%s\nCanonical(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// docs/manifest.md gives this example; it must stay true.
func TestDocumentedExample(t *testing.T) {
	const want = "f8d4c2165f4e5bfa86d961c4e5fe4cfe406864e092e723efc0b01853a28f4afc"
	for _, p := range [][2]string{
		{`[0.1, 0.2]`, `{"b": 1, "a": "x"}`},
		{`[0.10000000149011612, 0.20000000298023224]`, `{"a": "x", "b": 1.0}`},
	} {
		if got, err := Digest(json.RawMessage(p[0]), json.RawMessage(p[1])); err != nil || got != want {
			t.Errorf("Digest(%s, %s): want the documented %s, got %s, %v", p[0], p[1], want, got, err)
		}
	}
}

func TestCanonicalRefuses(t *testing.T) {
	cases := map[string]struct {
		reason  string
		vector  string
		payload string
		want    string
	}{
		"PayloadNotObject": {"A payload is an object.", `[1]`, `[1]`, "not a JSON object"},
		"NotJSON":          {"Garbage is refused.", `[1,`, `{}`, "cannot read the vector"},
		"TwoValues":        {"One value, not two.", `[1] [2]`, `{}`, "more than one JSON value"},
		"SparseMismatch":   {"A sparse vector has as many values as indices.", `{"s":{"indices":[1,2],"values":[1]}}`, `{}`, "2 indices and 1 values"},
		"SparseIndex":      {"Sparse indices are unsigned integers.", `{"s":{"indices":[-1],"values":[1]}}`, `{}`, "not an unsigned integer"},
		"OutOfFloat32":     {"A component beyond float32 is no stored vector.", `[1e39]`, `{}`, "not a float32"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Digest(json.RawMessage(tc.vector), json.RawMessage(tc.payload))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nDigest: want an error containing %q, got %v", tc.reason, tc.want, err)
			}
		})
	}
}

// point is a random point: dense and sparse vectors of float32 components,
// and a payload of integers, floats, strings and nested objects.
type point struct {
	Dense   []float32
	Indices []uint32
	Values  []float32
	Ints    map[string]int64
	Floats  map[string]float64
	Strings map[string]string
}

func (point) Generate(r *rand.Rand, size int) reflect.Value {
	p := point{Ints: map[string]int64{}, Floats: map[string]float64{}, Strings: map[string]string{}}
	for range 1 + r.Intn(size+1) {
		p.Dense = append(p.Dense, float32(r.NormFloat64()))
	}
	used := map[uint32]bool{}
	for range r.Intn(size + 1) {
		i := r.Uint32()
		if used[i] {
			continue
		}
		used[i] = true
		p.Indices = append(p.Indices, i)
		p.Values = append(p.Values, float32(r.NormFloat64()))
	}
	for range r.Intn(size + 1) {
		p.Ints[fmt.Sprint("i", r.Intn(50))] = r.Int63() - r.Int63()
		p.Floats[fmt.Sprint("f", r.Intn(50))] = r.NormFloat64() * math.Pow(10, float64(r.Intn(40)-20))
		p.Strings[fmt.Sprint("s", r.Intn(50))] = fmt.Sprint(r.Int())
	}
	return reflect.ValueOf(p)
}

// style is one way a server may print a point.
type style struct {
	// float32Digits prints vector components with more digits than needed,
	// as a float64 (0.10000000149011612 for 0.1).
	float32Digits bool
	// reverse lists object keys and sparse pairs in reverse order.
	reverse bool
	// spaces indents.
	spaces bool
	// exponent prints payload floats in exponent form.
	exponent bool
}

func (p point) render(st style) (vector, payload json.RawMessage) {
	comp := func(f float32) string {
		if st.float32Digits {
			return strconv.FormatFloat(float64(f), 'g', -1, 64)
		}
		return strconv.FormatFloat(float64(f), 'g', -1, 32)
	}
	sep := ","
	if st.spaces {
		sep = ", \n  "
	}
	var dense []string
	for _, f := range p.Dense {
		dense = append(dense, comp(f))
	}
	idx, val := []string{}, []string{}
	order := make([]int, len(p.Indices))
	for i := range order {
		order[i] = i
	}
	if st.reverse {
		sort.Sort(sort.Reverse(sort.IntSlice(order)))
	}
	for _, i := range order {
		idx = append(idx, strconv.FormatUint(uint64(p.Indices[i]), 10))
		val = append(val, comp(p.Values[i]))
	}
	fields := []string{
		`"dense":[` + strings.Join(dense, sep) + `]`,
		`"sparse":{"indices":[` + strings.Join(idx, sep) + `]` + sep + `"values":[` + strings.Join(val, sep) + `]}`,
	}
	var kv []string
	for k, v := range p.Ints {
		kv = append(kv, fmt.Sprintf("%q:%d", k, v))
	}
	for k, v := range p.Floats {
		f := strconv.FormatFloat(v, 'g', -1, 64)
		if st.exponent {
			f = strconv.FormatFloat(v, 'e', -1, 64)
		}
		kv = append(kv, fmt.Sprintf("%q:%s", k, f))
	}
	for k, v := range p.Strings {
		kv = append(kv, fmt.Sprintf("%q:{\"v\":%q,\"w\":[%q]}", k, v, v))
	}
	sort.Strings(kv)
	if st.reverse {
		sort.Sort(sort.Reverse(sort.StringSlice(kv)))
		fields[0], fields[1] = fields[1], fields[0]
	}
	return json.RawMessage("{" + strings.Join(fields, sep) + "}"), json.RawMessage("{" + strings.Join(kv, sep) + "}")
}

func TestDigestIgnoresHowAPointIsPrinted(t *testing.T) {
	same := func(p point, a, b style) bool {
		va, pa := p.render(a)
		vb, pb := p.render(b)
		da, err := Digest(va, pa)
		if err != nil {
			t.Logf("%s %s: %v", va, pa, err)
			return false
		}
		db, err := Digest(vb, pb)
		if err != nil {
			t.Logf("%s %s: %v", vb, pb, err)
			return false
		}
		return da == db
	}
	plain := style{}
	for name, other := range map[string]style{
		"Float32Digits": {float32Digits: true},
		"KeyOrder":      {reverse: true},
		"Whitespace":    {spaces: true},
		"Exponents":     {exponent: true},
		"All":           {float32Digits: true, reverse: true, spaces: true, exponent: true},
	} {
		t.Run(name, func(t *testing.T) {
			if err := quick.Check(func(p point) bool { return same(p, plain, other) }, nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestDigestTellsPointsApart(t *testing.T) {
	digest := func(p point) string {
		v, pl := p.render(style{})
		d, err := Digest(v, pl)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	changes := map[string]func(p point, r *rand.Rand) (point, bool){
		"DenseComponent": func(p point, r *rand.Rand) (point, bool) {
			p.Dense = append([]float32(nil), p.Dense...)
			i := r.Intn(len(p.Dense))
			// The next float32: the smallest change a stored vector can have.
			p.Dense[i] = math.Nextafter32(p.Dense[i], float32(math.Inf(1)))
			return p, true
		},
		"SparseValue": func(p point, r *rand.Rand) (point, bool) {
			if len(p.Values) == 0 {
				return p, false
			}
			p.Values = append([]float32(nil), p.Values...)
			i := r.Intn(len(p.Values))
			p.Values[i] = math.Nextafter32(p.Values[i], float32(math.Inf(-1)))
			return p, true
		},
		"SparseIndex": func(p point, r *rand.Rand) (point, bool) {
			if len(p.Indices) == 0 {
				return p, false
			}
			p.Indices = append([]uint32(nil), p.Indices...)
			p.Indices[r.Intn(len(p.Indices))] ^= 1 << 30
			return p, true
		},
		"PayloadInteger": func(p point, _ *rand.Rand) (point, bool) {
			q := p
			q.Ints = map[string]int64{}
			for k, v := range p.Ints {
				q.Ints[k] = v
			}
			// Beyond float64's exact integers: only an exact reading
			// tells 2^60 from 2^60+1. p's map is its own (Generate).
			p.Ints["big"] = 1 << 60
			q.Ints["big"] = 1<<60 + 1
			return q, true
		},
		"PayloadString": func(p point, _ *rand.Rand) (point, bool) {
			q := p
			q.Strings = map[string]string{"extra": "x"}
			for k, v := range p.Strings {
				q.Strings[k] = v
			}
			return q, true
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			f := func(p point, seed int64) bool {
				q, ok := change(p, rand.New(rand.NewSource(seed))) //nolint:gosec // Test data, not secrets.
				return !ok || digest(p) != digest(q)
			}
			if err := quick.Check(f, nil); err != nil {
				t.Error(err)
			}
		})
	}
}
