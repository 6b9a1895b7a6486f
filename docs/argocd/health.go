// Package argocd holds Argo CD's health checks for the kinds qdrantops users
// apply (health/*.lua, shipped in argocd-cm.yaml) and runs them in Go with
// the Lua engine Argo CD embeds, so that tests can hold them to real objects.
package argocd

import (
	"embed"
	"errors"
	"fmt"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

//go:embed health/*.lua
var scripts embed.FS

// A Health is what a health check returns, as Argo CD reads it.
type Health struct {
	Status  string
	Message string
}

// scriptFor names the script of a kind.
func scriptFor(gk schema.GroupKind) (string, bool) {
	s, ok := map[schema.GroupKind]string{
		{Group: "ops.qdrantops.io", Kind: "Backup"}:         "health/backup.lua",
		{Group: "ops.qdrantops.io", Kind: "Restore"}:        "health/restore.lua",
		{Group: "ops.qdrantops.io", Kind: "BackupSchedule"}: "health/backupschedule.lua",
		{Group: "qdrantops.io", Kind: "QdrantCluster"}:      "health/qdrantcluster.lua",
	}[gk]
	return s, ok
}

// Check runs the health check of obj's kind on obj, as Argo CD does: the
// object is the global obj, and the script returns a table with status and
// message.
func Check(obj *unstructured.Unstructured) (Health, error) {
	path, ok := scriptFor(obj.GroupVersionKind().GroupKind())
	if !ok {
		return Health{}, fmt.Errorf("no health check for %s", obj.GroupVersionKind().GroupKind())
	}
	src, err := scripts.ReadFile(path)
	if err != nil {
		return Health{}, fmt.Errorf("cannot read %s: %w", path, err)
	}
	ls := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer ls.Close()
	for _, open := range []lua.LGFunction{lua.OpenBase, lua.OpenTable, lua.OpenString, lua.OpenMath} {
		ls.Push(ls.NewFunction(open))
		ls.Call(0, 0)
	}
	ls.SetGlobal("obj", toLua(ls, obj.Object))
	if err := ls.DoString(string(src)); err != nil {
		return Health{}, fmt.Errorf("%s: %w", path, err)
	}
	t, ok := ls.Get(-1).(*lua.LTable)
	if !ok {
		return Health{}, errors.New(path + " returned no table")
	}
	return Health{Status: lua.LVAsString(t.RawGetString("status")), Message: lua.LVAsString(t.RawGetString("message"))}, nil
}

// CheckObject is Check for a typed object of the kind gvk names.
func CheckObject(o runtime.Object, gvk schema.GroupVersionKind) (Health, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return Health{}, fmt.Errorf("cannot convert the %s: %w", gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return Check(u)
}

// toLua converts a decoded JSON value to Lua as Argo CD does: objects and
// arrays become tables (arrays from index 1).
func toLua(ls *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := ls.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(ls, e))
		}
		return t
	case []any:
		t := ls.NewTable()
		for _, e := range v {
			t.Append(toLua(ls, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	return lua.LString(fmt.Sprint(v))
}
