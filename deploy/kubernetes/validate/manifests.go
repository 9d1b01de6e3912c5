package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	File string // base name of the file it came from
	Kind string // "apps/v1 Deployment"
	Name string
	Obj  any // *appsv1.Deployment, *corev1.Service, ...
}

// kinds are the API types the manifests may use; anything else is an error, so a
// new kind gets a decoder (and its checks) before it can be shipped.
var kinds = map[string]func() any{
	"apps/v1 Deployment":            func() any { return &appsv1.Deployment{} },
	"apps/v1 StatefulSet":           func() any { return &appsv1.StatefulSet{} },
	"v1 Service":                    func() any { return &corev1.Service{} },
	"v1 ConfigMap":                  func() any { return &corev1.ConfigMap{} },
	"policy/v1 PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
}

// ManifestFiles lists the YAML files of dir (not recursive), sorted.
func ManifestFiles(dir string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	sort.Strings(out)
	return out, nil
}

// DecodeFile decodes every document of one YAML file strictly.
func DecodeFile(path string) ([]Object, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(filepath.Base(path), raw)
}

// Decode decodes every non-empty document of a YAML stream strictly: YAML with
// duplicate keys, an unknown apiVersion/kind, or a field the type does not have
// (including a field spelled with the wrong case) is an error.
func Decode(name string, raw []byte) ([]Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var out []Object
	for index := 0; ; index++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, index, err)
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, index, err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue // only comments
		}
		var meta metav1.TypeMeta
		if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, index, err)
		}
		kind := meta.APIVersion + " " + meta.Kind
		newObj, ok := kinds[kind]
		if !ok {
			return nil, fmt.Errorf("%s: document %d: no decoder for %q", name, index, kind)
		}
		obj := newObj()
		strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): %w", name, index, kind, err)
		}
		if len(strict) > 0 {
			return nil, fmt.Errorf("%s: document %d (%s): %w", name, index, kind, errors.Join(strict...))
		}
		out = append(out, Object{File: name, Kind: kind, Name: objectName(obj), Obj: obj})
	}
}

func objectName(obj any) string {
	if o, ok := obj.(metav1.Object); ok {
		return o.GetName()
	}
	return ""
}

// HealthProbe is what an exec probe running `memd health` checks.
type HealthProbe struct {
	Target   string
	Service  string // "" is the daemon as a whole
	TimeoutS float64
}

// ParseHealthProbe reads an exec probe's command: memd health with --target,
// optionally --service and --timeout (memd's default: 5 s), each as --flag=value.
func ParseHealthProbe(cmd []string) (HealthProbe, error) {
	probe := HealthProbe{TimeoutS: 5}
	if len(cmd) < 2 || cmd[0] != "memd" || cmd[1] != "health" {
		return probe, fmt.Errorf("want [memd health --target=... ...], got %q", cmd)
	}
	for _, arg := range cmd[2:] {
		flag, value, ok := strings.Cut(arg, "=")
		if !ok {
			return probe, fmt.Errorf("%q: write flags as --flag=value", arg)
		}
		switch flag {
		case "--target":
			probe.Target = value
		case "--service":
			probe.Service = value
		case "--timeout":
			t, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return probe, fmt.Errorf("%q: %w", arg, err)
			}
			probe.TimeoutS = t
		default:
			return probe, fmt.Errorf("%q: not a memd health flag this check knows", arg)
		}
	}
	if probe.Target == "" {
		return probe, fmt.Errorf("%q: no --target (memd health would ask 127.0.0.1:50051)", cmd)
	}
	return probe, nil
}
