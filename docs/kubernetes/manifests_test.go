// Package kubernetes checks the example manifests offline: every document
// is strictly decoded into the Kubernetes API types of k8s.io/api (an
// unknown or misspelt field, a wrong type or an unknown kind fails), names
// and labels pass apimachinery's validation, and the rules streamd needs are
// checked: probes on /healthz and /readyz at the STREAMD_HTTP_ADDR port,
// requests above the measured RSS, a grace period above the shutdown
// timeout, the key from a Secret file, PDBs that select a Deployment, and
// only STREAMD_ variables that config.example.env documents.
package kubernetes

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// objects are the decoded documents of every *.yaml file here.
type objects struct {
	deployments []*appsv1.Deployment
	pdbs        []*policyv1.PodDisruptionBudget
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
}

func load(t *testing.T) *objects {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	o := &objects{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			if err := o.add([]byte(doc)); err != nil {
				t.Errorf("%s document %d: %v", f, i+1, err)
			}
		}
	}
	return o
}

// add strictly decodes one document by its apiVersion and kind.
func (o *objects) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var (
		obj  any
		meta *metav1.ObjectMeta
	)
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		d := &appsv1.Deployment{}
		obj, meta = d, &d.ObjectMeta
		o.deployments = append(o.deployments, d)
	case "policy/v1 PodDisruptionBudget":
		p := &policyv1.PodDisruptionBudget{}
		obj, meta = p, &p.ObjectMeta
		o.pdbs = append(o.pdbs, p)
	case "v1 ConfigMap":
		c := &corev1.ConfigMap{}
		obj, meta = c, &c.ObjectMeta
		defer func() { o.configMaps[c.Name] = c }()
	case "v1 Secret":
		s := &corev1.Secret{}
		obj, meta = s, &s.ObjectMeta
		defer func() { o.secrets[s.Name] = s }()
	default:
		return fmt.Errorf("unexpected kind %q %q", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return checkMeta(tm.Kind, meta)
}

func checkMeta(kind string, m *metav1.ObjectMeta) error {
	if errs := validation.IsDNS1123Subdomain(m.Name); len(errs) > 0 {
		return fmt.Errorf("%s name %q: %v", kind, m.Name, errs)
	}
	if m.Namespace == "" {
		return fmt.Errorf("%s %s has no namespace", kind, m.Name)
	}
	for k, v := range m.Labels {
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return fmt.Errorf("%s %s label %s=%s: %v", kind, m.Name, k, v, errs)
		}
	}
	return nil
}

func TestManifestsDecodeStrictly(t *testing.T) {
	o := load(t)
	if len(o.deployments) < 2 || len(o.pdbs) < 2 || len(o.secrets) < 1 {
		t.Fatalf("found %d deployments, %d PDBs, %d secrets; want the readers and consumers examples",
			len(o.deployments), len(o.pdbs), len(o.secrets))
	}
}

// TestStrictDecodingCatchesTypos guards the check itself: a misspelt field
// must fail.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	data, err := os.ReadFile("readers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")
	for _, typo := range [][2]string{{"readinessProbe:", "readynessProbe:"}, {"replicas: 2", "replicas: two"}} {
		var o objects
		if err := o.add([]byte(strings.Replace(docs[1], typo[0], typo[1], 1))); err == nil {
			t.Errorf("a Deployment with %q decoded without error", typo[1])
		}
	}
}

func TestDeploymentsFitStreamd(t *testing.T) {
	o := load(t)
	documented := documentedVars(t)
	for _, d := range o.deployments {
		t.Run(d.Name, func(t *testing.T) {
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("selector %v does not match the pod labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
			}
			pod := d.Spec.Template.Spec
			if g := pod.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
				t.Errorf("terminationGracePeriodSeconds %v, want > STREAMD_SHUTDOWN_TIMEOUT (30s)", g)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			env := containerEnv(t, o, d.Namespace, pod.Containers[0])
			for name := range env {
				if strings.HasPrefix(name, "STREAMD_") && !documented[name] {
					t.Errorf("%s is not a streamd variable (not in config.example.env)", name)
				}
			}
			if _, ok := env["STREAMD_API_KEY"]; ok {
				t.Error("STREAMD_API_KEY set as a value; mount the Secret and use STREAMD_API_KEY_FILE")
			}
			checkContainer(t, pod, env)
		})
	}
}

// containerEnv is the container's environment: its ConfigMaps, then env.
func containerEnv(t *testing.T, o *objects, ns string, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, src := range c.EnvFrom {
		if src.ConfigMapRef == nil {
			t.Errorf("envFrom other than a ConfigMap: %+v", src)
			continue
		}
		cm, ok := o.configMaps[src.ConfigMapRef.Name]
		if !ok || cm.Namespace != ns {
			t.Errorf("envFrom ConfigMap %q is not in the examples' namespace %s", src.ConfigMapRef.Name, ns)
			continue
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func checkContainer(t *testing.T, pod corev1.PodSpec, env map[string]string) {
	t.Helper()
	c := pod.Containers[0]
	_, port, _ := strings.Cut(env["STREAMD_HTTP_ADDR"], ":")
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe %+v, want GET %s", p.name, p.probe, p.path)
			continue
		}
		if got := probePort(c, p.probe.HTTPGet.Port.String()); got != port {
			t.Errorf("%s probe on port %s, STREAMD_HTTP_ADDR listens on %q", p.name, got, port)
		}
	}

	// Measured peak RSS is 16-23 MiB (docs/performance.md).
	req, lim := c.Resources.Requests, c.Resources.Limits
	if m := req[corev1.ResourceMemory]; m.Cmp(resource.MustParse("24Mi")) < 0 || m.Cmp(resource.MustParse("256Mi")) > 0 {
		t.Errorf("memory request %s, want 24Mi..256Mi (measured RSS 16-23 MiB)", m.String())
	}
	if m, l := req[corev1.ResourceMemory], lim[corev1.ResourceMemory]; l.IsZero() || l.Cmp(m) < 0 {
		t.Errorf("memory limit %s, want one at or above the request %s", l.String(), m.String())
	}
	if _, ok := req[corev1.ResourceCPU]; !ok {
		t.Error("no CPU request")
	}

	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v, want a read-only root and no privilege escalation", sc)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod does not set runAsNonRoot")
	}
	checkKeyFile(t, pod, env["STREAMD_API_KEY_FILE"])
}

// probePort resolves a probe's port (a number or a container port name).
func probePort(c corev1.Container, p string) string {
	for _, cp := range c.Ports {
		if cp.Name == p {
			return fmt.Sprint(cp.ContainerPort)
		}
	}
	return p
}

// checkKeyFile: STREAMD_API_KEY_FILE is a file of a mounted Secret volume.
func checkKeyFile(t *testing.T, pod corev1.PodSpec, path string) {
	t.Helper()
	for _, m := range pod.Containers[0].VolumeMounts {
		if filepath.Dir(path) != m.MountPath {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				return
			}
		}
	}
	t.Errorf("STREAMD_API_KEY_FILE=%q is not in a mounted Secret volume", path)
}

func TestPDBsSelectADeployment(t *testing.T) {
	o := load(t)
	for _, p := range o.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			t.Fatalf("PDB %s: %v", p.Name, err)
		}
		var target *appsv1.Deployment
		for _, d := range o.deployments {
			if d.Namespace == p.Namespace && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				if target != nil {
					t.Errorf("PDB %s selects both %s and %s", p.Name, target.Name, d.Name)
				}
				target = d
			}
		}
		if target == nil {
			t.Errorf("PDB %s selects no Deployment", p.Name)
			continue
		}
		replicas := int32(1)
		if target.Spec.Replicas != nil {
			replicas = *target.Spec.Replicas
		}
		minAv, maxUn := p.Spec.MinAvailable, p.Spec.MaxUnavailable
		switch {
		case (minAv == nil) == (maxUn == nil):
			t.Errorf("PDB %s: want exactly one of minAvailable and maxUnavailable", p.Name)
		case minAv != nil && minAv.IntValue() >= int(replicas):
			t.Errorf("PDB %s: minAvailable %s of %d replicas blocks every eviction", p.Name, minAv.String(), replicas)
		case maxUn != nil && maxUn.IntValue() < 1:
			t.Errorf("PDB %s: maxUnavailable %s blocks every eviction", p.Name, maxUn.String())
		}
	}
}

var exampleVar = regexp.MustCompile(`^#?\s*(STREAMD_[A-Z0-9_]+)=`)

// documentedVars are the variables config.example.env documents (a test of
// cmd/streamd keeps that file equal to the daemon's configuration).
func documentedVars(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "config.example.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := exampleVar.FindStringSubmatch(sc.Text()); m != nil {
			vars[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil || len(vars) < 20 {
		t.Fatalf("read config.example.env: %d variables, %v", len(vars), err)
	}
	return vars
}
