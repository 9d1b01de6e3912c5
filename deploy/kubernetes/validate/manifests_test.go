package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	manifestDir = ".."
	memdImage   = "memd:0.1.0"
	memdUID     = 10001
	socketAddr  = "unix:///run/memd/memd.sock"
	serviceName = "memd.v1.MemoryService"
)

// loadAll decodes every manifest; a file that fails to decode fails the test.
func loadAll(t *testing.T) map[string][]Object {
	t.Helper()
	files, err := ManifestFiles(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", manifestDir)
	}
	out := map[string][]Object{}
	for _, f := range files {
		objs, err := DecodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) == 0 {
			t.Fatalf("%s: no documents", f)
		}
		out[filepath.Base(f)] = objs
	}
	return out
}

func one[T any](t *testing.T, objs []Object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, found %d", zero, len(found))
	}
	return found[0]
}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	all := loadAll(t)
	for _, want := range []string{"sidecar.yaml", "shared.yaml"} {
		if _, ok := all[want]; !ok {
			t.Errorf("%s is missing", want)
		}
	}
	for file, objs := range all {
		for _, o := range objs {
			t.Logf("%s: %s %s", file, o.Kind, o.Name)
		}
	}
}

// The decoder itself must reject what the API server's strict validation rejects,
// or every other test here proves nothing.
func TestDecodeRejectsMistakes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(manifestDir, "sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode("sidecar.yaml", raw); err != nil {
		t.Fatalf("the unmodified file must decode: %v", err)
	}
	cases := []struct{ name, from, to string }{
		{"unknown field", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"wrong case", "restartPolicy: Always", "RestartPolicy: Always"},
		{"misplaced field", "      terminationGracePeriodSeconds: 45", "      terminationGracePeriod: 45"},
		{"wrong type", "runAsUser: 10001", "runAsUser: root"},
		{"duplicate key", "      automountServiceAccountToken: false",
			"      automountServiceAccountToken: false\n      automountServiceAccountToken: true"},
		{"unknown kind", "kind: Deployment", "kind: Deploymnet"},
		{"bad quantity", "memory: 512Mi", "memory: 512MB!"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken, ok := replaceOutsideComments(string(raw), c.from, c.to)
			if !ok {
				t.Fatalf("sidecar.yaml no longer contains %q outside comments: update this case", c.from)
			}
			if _, err := Decode("sidecar.yaml", []byte(broken)); err == nil {
				t.Fatalf("%q -> %q decoded without error", c.from, c.to)
			} else {
				t.Logf("rejected: %v", err)
			}
		})
	}
}

// replaceOutsideComments replaces the first occurrence of from on a line that is not
// a comment.
func replaceOutsideComments(text, from, to string) (string, bool) {
	lines := strings.SplitAfter(text, "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.Contains(line, from) {
			lines[i] = strings.Replace(line, from, to, 1)
			return strings.Join(lines, ""), true
		}
	}
	return text, false
}

func memdContainer(t *testing.T, containers []corev1.Container) corev1.Container {
	t.Helper()
	for _, c := range containers {
		if c.Name == "memd" {
			return c
		}
	}
	t.Fatal("no container named memd")
	return corev1.Container{}
}

func envMap(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

func TestSidecar(t *testing.T) {
	dep := one[*appsv1.Deployment](t, loadAll(t)["sidecar.yaml"])
	pod := dep.Spec.Template.Spec
	memd := memdContainer(t, pod.InitContainers)
	if memd.RestartPolicy == nil || *memd.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("memd must be a native sidecar: an init container with restartPolicy: Always")
	}
	for _, c := range pod.Containers {
		if c.Name == "memd" {
			t.Error("memd must not be a regular container (it would not start first)")
		}
	}
	env := envMap(memd)
	listen := strings.Split(env["MEMD_LISTEN"], ",")
	if !contains(listen, socketAddr) {
		t.Errorf("MEMD_LISTEN %v: want the shared socket %s", listen, socketAddr)
	}
	for _, a := range listen {
		if !strings.HasPrefix(a, "unix://") && !strings.HasPrefix(a, "127.0.0.1:") && !strings.HasPrefix(a, "[::1]:") {
			t.Errorf("MEMD_LISTEN %q: a sidecar with auth off listens on loopback and Unix sockets only", a)
		}
	}
	checkSocketShared(t, pod, memd)
	checkProbes(t, memd, pod.TerminationGracePeriodSeconds, env)
	checkHardened(t, pod, memd)
	for _, c := range pod.Containers {
		checkHardened(t, pod, c)
	}
	checkScrape(t, dep.Spec.Template.Annotations, env)
	checkVolumeMount(t, pod, memd, env["MEMD_DATA_DIR"], false)
}

func TestShared(t *testing.T) {
	objs := loadAll(t)["shared.yaml"]
	sts := one[*appsv1.StatefulSet](t, objs)
	pod := sts.Spec.Template.Spec
	memd := memdContainer(t, pod.Containers)
	env := envMap(memd)

	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Error("one daemon per data directory: replicas must be 1")
	}
	if env["MEMD_AUTH"] != "required" {
		t.Errorf("MEMD_AUTH = %q, want required", env["MEMD_AUTH"])
	}
	if !contains(strings.Split(env["MEMD_LISTEN"], ","), "0.0.0.0:50051") {
		t.Errorf("MEMD_LISTEN = %q: want 0.0.0.0:50051", env["MEMD_LISTEN"])
	}
	for _, name := range []string{"MEMD_ADMIN_TOKEN_FILE", "MEMD_TLS_CERT", "MEMD_TLS_KEY"} {
		if env[name] == "" {
			t.Errorf("%s is not set", name)
			continue
		}
		checkVolumeMount(t, pod, memd, env[name], true)
	}
	secretOf := func(path string) *corev1.SecretVolumeSource {
		v := volumeFor(pod, memd, path)
		if v == nil || v.Secret == nil {
			t.Fatalf("%s is not on a Secret volume", path)
		}
		return v.Secret
	}
	if s := secretOf(env["MEMD_ADMIN_TOKEN_FILE"]); s.SecretName != "memd-admin-token" {
		t.Errorf("admin token from Secret %q, want memd-admin-token (deploy/README.md)", s.SecretName)
	}
	tls := secretOf(env["MEMD_TLS_CERT"])
	if tls.SecretName != "memd-tls" || secretOf(env["MEMD_TLS_KEY"]).SecretName != "memd-tls" {
		t.Error("TLS cert and key must come from the memd-tls Secret")
	}
	if filepath.Base(env["MEMD_TLS_CERT"]) != corev1.TLSCertKey || filepath.Base(env["MEMD_TLS_KEY"]) != corev1.TLSPrivateKeyKey {
		t.Error("TLS file names must be the kubernetes.io/tls keys tls.crt and tls.key")
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o137 != 0) {
			t.Errorf("Secret volume %s: defaultMode must be at most 0640 (got %v)", v.Name, v.Secret.DefaultMode)
		}
	}
	for _, m := range memd.VolumeMounts {
		if m.SubPath != "" {
			t.Errorf("mount %s uses subPath: Secret updates would not reach memd", m.Name)
		}
	}
	// Data and backups live on the claim template's volume.
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("want one volumeClaimTemplate, got %d", len(sts.Spec.VolumeClaimTemplates))
	}
	claim := sts.Spec.VolumeClaimTemplates[0].Name
	for _, name := range []string{"MEMD_DATA_DIR", "MEMD_BACKUP_DIR"} {
		m := mountFor(memd, env[name])
		if m == nil || m.Name != claim {
			t.Errorf("%s = %q is not on the claim template %q", name, env[name], claim)
		}
	}
	checkSocketShared(t, pod, memd)
	checkProbes(t, memd, pod.TerminationGracePeriodSeconds, env)
	checkHardened(t, pod, memd)
	checkScrape(t, sts.Spec.Template.Annotations, env)

	// The Services select the pod and reach the gRPC port by name.
	var headless bool
	for _, o := range objs {
		svc, ok := o.Obj.(*corev1.Service)
		if !ok {
			continue
		}
		if svc.Spec.Selector["app.kubernetes.io/name"] != sts.Spec.Template.Labels["app.kubernetes.io/name"] {
			t.Errorf("Service %s does not select the StatefulSet's pods", svc.Name)
		}
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.String() != "grpc" || !hasPort(memd, "grpc", 50051) {
				t.Errorf("Service %s port %s must target the container port grpc (50051)", svc.Name, p.Name)
			}
		}
		if svc.Name == sts.Spec.ServiceName && svc.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = true
		}
	}
	if !headless {
		t.Errorf("serviceName %q must name a headless Service in shared.yaml", sts.Spec.ServiceName)
	}
}

func checkSocketShared(t *testing.T, pod corev1.PodSpec, memd corev1.Container) {
	t.Helper()
	dir := filepath.Dir(strings.TrimPrefix(socketAddr, "unix://"))
	v := volumeFor(pod, memd, dir)
	if v == nil || v.EmptyDir == nil {
		t.Fatalf("the socket directory %s must be an emptyDir volume", dir)
	}
	for _, c := range pod.Containers {
		if c.Name == memd.Name {
			continue
		}
		if m := mountFor(c, dir); m == nil || m.Name != v.Name {
			t.Errorf("container %s does not mount the socket directory %s", c.Name, dir)
		}
	}
}

// checkProbes: startup, readiness and liveness ask the health service over the Unix
// socket (readiness for memd.v1.MemoryService, which turns NOT_SERVING on drain),
// and the pod's grace period covers memd's drain.
func checkProbes(t *testing.T, memd corev1.Container, grace *int64, env map[string]string) {
	t.Helper()
	want := map[string]struct {
		probe   *corev1.Probe
		service string
	}{
		"startup":   {memd.StartupProbe, serviceName},
		"readiness": {memd.ReadinessProbe, serviceName},
		"liveness":  {memd.LivenessProbe, ""},
	}
	for name, w := range want {
		if w.probe == nil {
			t.Errorf("%s probe missing", name)
			continue
		}
		if w.probe.Exec == nil {
			t.Errorf("%s probe: want an exec health check over the socket", name)
			continue
		}
		hp, err := ParseHealthProbe(w.probe.Exec.Command)
		if err != nil {
			t.Errorf("%s probe: %v", name, err)
			continue
		}
		if hp.Target != socketAddr || hp.Service != w.service {
			t.Errorf("%s probe checks %q on %s, want %q on %s", name, hp.Service, hp.Target, w.service, socketAddr)
		}
		if float64(w.probe.TimeoutSeconds) <= hp.TimeoutS {
			t.Errorf("%s probe: timeoutSeconds %d must exceed memd health's --timeout %v", name, w.probe.TimeoutSeconds, hp.TimeoutS)
		}
	}
	graceS := parseFloat(t, orDefault(env["MEMD_GRACE_S"], "10"))
	if grace == nil {
		t.Error("terminationGracePeriodSeconds is not set")
	} else if float64(*grace) < graceS+10 {
		t.Errorf("terminationGracePeriodSeconds %d must exceed MEMD_GRACE_S (%v s) by at least 10 s", *grace, graceS)
	}
}

func checkHardened(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != memdUID {
		t.Errorf("pod: want runAsNonRoot and runAsUser %d", memdUID)
	}
	if ps == nil || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod: want seccompProfile RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("pod: memd needs no API access: automountServiceAccountToken: false")
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("container %s: no securityContext", c.Name)
	}
	checks := map[string]bool{
		"runAsNonRoot":                   sc.RunAsNonRoot != nil && *sc.RunAsNonRoot,
		"runAsUser fixed":                sc.RunAsUser != nil && *sc.RunAsUser == memdUID,
		"readOnlyRootFilesystem":         sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		"allowPrivilegeEscalation false": sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		"capabilities drop ALL":          sc.Capabilities != nil && len(sc.Capabilities.Add) == 0 && contains(capStrings(sc.Capabilities.Drop), "ALL"),
		"seccomp RuntimeDefault":         sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"not privileged":                 sc.Privileged == nil || !*sc.Privileged,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("container %s: securityContext lacks %s", c.Name, what)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("container %s: no %s request", c.Name, r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Errorf("container %s: no memory limit", c.Name)
	}
	if c.Name == "memd" {
		if c.Image != memdImage {
			t.Errorf("memd image %q, want %s", c.Image, memdImage)
		}
		if m := mountFor(c, "/tmp"); m == nil {
			t.Error("memd: /tmp must be a writable volume (the root filesystem is read-only)")
		}
	}
}

func checkScrape(t *testing.T, ann map[string]string, env map[string]string) {
	t.Helper()
	listen := env["MEMD_METRICS_LISTEN"]
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v: want prometheus.io/scrape and /metrics", ann)
	}
	if !strings.HasPrefix(listen, "0.0.0.0:") || ann["prometheus.io/port"] != strings.TrimPrefix(listen, "0.0.0.0:") {
		t.Errorf("MEMD_METRICS_LISTEN %q must listen on the pod IP, on prometheus.io/port %q", listen, ann["prometheus.io/port"])
	}
}

// checkVolumeMount: path lies on a volume mounted in c (readOnly when asked: the
// Secrets), not on the read-only root filesystem.
func checkVolumeMount(t *testing.T, pod corev1.PodSpec, c corev1.Container, path string, readOnly bool) {
	t.Helper()
	m := mountFor(c, path)
	if m == nil {
		t.Errorf("%s: %s is not on a mounted volume (the root filesystem is read-only)", c.Name, path)
		return
	}
	if readOnly && !m.ReadOnly {
		t.Errorf("%s: mount %s of %s must be readOnly", c.Name, m.Name, path)
	}
	if volumeFor(pod, c, path) == nil {
		if _, claim := claimNames[m.Name]; !claim {
			t.Errorf("%s: mount %s has no volume", c.Name, m.Name)
		}
	}
}

// claimNames are the volumeClaimTemplates' names, which have no entry in volumes.
var claimNames = map[string]struct{}{"data": {}}

func mountFor(c corev1.Container, path string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		mp := strings.TrimSuffix(m.MountPath, "/")
		if (path == mp || strings.HasPrefix(path, mp+"/")) && (best == nil || len(mp) > len(best.MountPath)) {
			best = &c.VolumeMounts[i]
		}
	}
	return best
}

func volumeFor(pod corev1.PodSpec, c corev1.Container, path string) *corev1.Volume {
	m := mountFor(c, path)
	if m == nil {
		return nil
	}
	for i, v := range pod.Volumes {
		if v.Name == m.Name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

func hasPort(c corev1.Container, name string, port int32) bool {
	for _, p := range c.Ports {
		if p.Name == name && p.ContainerPort == port {
			return true
		}
	}
	return false
}

func capStrings(caps []corev1.Capability) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = string(c)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
