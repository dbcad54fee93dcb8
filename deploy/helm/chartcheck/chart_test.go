package chartcheck

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// A value set and what its rendering must hold.
type valueSet struct {
	name     string
	file     string         // in ci/, "" for the defaults
	set      map[string]any // laid over the file, like --set
	replicas int32
	postgres bool
	pvc      string // the data volume's claim, "" for an emptyDir
	ownPVC   bool   // the chart renders that claim
	tenants  string // the tenants ConfigMap, "" for none
	ownCM    bool   // the chart renders that ConfigMap
	wi       bool   // workload identity
	sa       string // the pod's service account
	ownSA    bool   // the chart renders it
	monitor  bool   // a ServiceMonitor
}

var valueSets = []valueSet{
	{name: "defaults", replicas: 1, sa: "mcasbot", ownSA: true},
	{name: "sqlite", file: "sqlite-values.yaml", replicas: 1, pvc: "mcasbot-data", ownPVC: true, sa: "mcasbot", ownSA: true},
	{name: "postgres", file: "postgres-values.yaml", replicas: 3, postgres: true,
		tenants: "mcasbot-tenants", ownCM: true, wi: true, sa: "mcasbot", ownSA: true, monitor: true},
	{name: "existing objects", file: "sqlite-values.yaml", set: map[string]any{
		"database":         map[string]any{"sqlite": map[string]any{"persistence": map[string]any{"existingClaim": "mcasbot-state"}}},
		"tenants":          map[string]any{"existingConfigMap": "soc-tenants", "key": "tenants.yml"},
		"serviceAccount":   map[string]any{"create": false, "name": "mcasbot-wi"},
		"workloadIdentity": map[string]any{"enabled": true},
		"config":           map[string]any{"REPORT_SCHEDULE": "off", "WORKERS": 16, "LOG_FORMAT": "text"},
	}, replicas: 1, pvc: "mcasbot-state", tenants: "soc-tenants", wi: true, sa: "mcasbot-wi"},
}

func (vs valueSet) values(t *testing.T) map[string]any {
	return merge(valuesFile(t, vs.file), vs.set)
}

// TestLintStrict is helm lint --strict on every value set.
func TestLintStrict(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			if bad := lintStrict(vs.values(t)); len(bad) > 0 {
				t.Fatalf("lint:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}

// rendered is every object of one rendering, each decoded strictly.
type rendered struct {
	deploy   *appsv1.Deployment
	service  *corev1.Service
	sa       *corev1.ServiceAccount
	pdb      *policyv1.PodDisruptionBudget
	pvc      *corev1.PersistentVolumeClaim
	cm       *corev1.ConfigMap
	monitor  *monitoringv1.ServiceMonitor
	manifest string // all of it, as helm template prints it
}

// decode takes each manifest into its k8s.io/api type: an unknown or
// misplaced field, or a kind the chart should not render, fails.
func decode(t *testing.T, vals map[string]any) rendered {
	t.Helper()
	manifests, err := render(vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var r rendered
	var all strings.Builder
	seen := map[string]bool{}
	for _, m := range manifests {
		fmt.Fprintf(&all, "---\n# Source: %s\n%s\n", m.Name, m.Content)
		key := m.Head.Version + "/" + m.Head.Kind
		if seen[key] {
			t.Fatalf("%s: a second %s", m.Name, key)
		}
		seen[key] = true
		var obj any
		switch key {
		case "apps/v1/Deployment":
			r.deploy = &appsv1.Deployment{}
			obj = r.deploy
		case "v1/Service":
			r.service = &corev1.Service{}
			obj = r.service
		case "v1/ServiceAccount":
			r.sa = &corev1.ServiceAccount{}
			obj = r.sa
		case "policy/v1/PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			obj = r.pdb
		case "v1/PersistentVolumeClaim":
			r.pvc = &corev1.PersistentVolumeClaim{}
			obj = r.pvc
		case "v1/ConfigMap":
			r.cm = &corev1.ConfigMap{}
			obj = r.cm
		case "monitoring.coreos.com/v1/ServiceMonitor":
			r.monitor = &monitoringv1.ServiceMonitor{}
			obj = r.monitor
		default:
			// A Secret above all: secrets are referenced, never rendered.
			t.Fatalf("%s: the chart renders a %s; decode it here before allowing it", m.Name, key)
		}
		if err := yaml.UnmarshalStrict([]byte(m.Content), obj); err != nil {
			t.Fatalf("%s (%s) does not decode strictly: %v\n%s", m.Name, key, err, m.Content)
		}
		meta := obj.(metav1.Object)
		if meta.GetNamespace() != "" {
			t.Errorf("%s: namespace %q: leave it to helm -n", m.Name, meta.GetNamespace())
		}
		if meta.GetLabels()["app.kubernetes.io/instance"] != release {
			t.Errorf("%s: no app.kubernetes.io/instance label", m.Name)
		}
	}
	r.manifest = all.String()
	if r.deploy == nil || r.service == nil {
		t.Fatalf("no Deployment or Service:\n%s", r.manifest)
	}
	return r
}

var secretName = regexp.MustCompile(`(TOKEN|SECRET|PASSWORD|API_KEY|_PAT)$`)

// TestRenderedManifests renders every value set and checks what production
// relies on: the security settings, probes, resources, volumes, where
// secrets come from, the database and workload identity wiring.
func TestRenderedManifests(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			r := decode(t, vs.values(t))
			if strings.Contains(r.manifest, "kind: Secret") {
				t.Errorf("a Secret is rendered:\n%s", r.manifest)
			}
			checkPod(t, vs, r)
			checkStore(t, vs, r)
			checkObjects(t, vs, r)
			checkSecretFiles(t, vs.values(t), r)
		})
	}
}

func checkPod(t *testing.T, vs valueSet, r rendered) {
	d := r.deploy
	if d.Spec.Replicas == nil || *d.Spec.Replicas != vs.replicas {
		t.Errorf("replicas %v, want %d", d.Spec.Replicas, vs.replicas)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) > 0 {
		t.Fatalf("want one container, have %d (+%d init)", len(pod.Containers), len(pod.InitContainers))
	}
	c := pod.Containers[0]

	psc := pod.SecurityContext
	if psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext: %+v", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !isTrue(sc.ReadOnlyRootFilesystem) ||
		isTrue(sc.Privileged) || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) > 0 {
		t.Errorf("container securityContext: %+v", sc)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("the pod shares a host namespace")
	}
	// The bot never calls the Kubernetes API; workload identity brings its
	// own projected token.
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not false")
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Error("service links on: other Services' variables would sit beside the bot's")
	}
	if pod.ServiceAccountName != vs.sa {
		t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, vs.sa)
	}

	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e
		if e.ValueFrom != nil && (e.ValueFrom.SecretKeyRef != nil || e.ValueFrom.ConfigMapKeyRef != nil) {
			t.Errorf("env %s comes from a key reference: secrets are files", e.Name)
		}
		if secretName.MatchString(e.Name) {
			t.Errorf("env %s carries a secret's value: use %s_FILE", e.Name, e.Name)
		}
	}
	for _, e := range c.EnvFrom {
		t.Errorf("envFrom %+v: every variable is listed", e)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 || env["HTTP_ADDR"].Value != ":8080" {
		t.Errorf("port %+v, HTTP_ADDR %q", c.Ports, env["HTTP_ADDR"].Value)
	}
	if got := env["MCAS_REPLICAS"].Value; got != fmt.Sprint(vs.replicas) {
		t.Errorf("MCAS_REPLICAS %q, want %d", got, vs.replicas)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v, want GET %s on http", name, p, path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	for _, res := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
	}{{c.Resources.Requests, corev1.ResourceCPU}, {c.Resources.Requests, corev1.ResourceMemory}, {c.Resources.Limits, corev1.ResourceMemory}} {
		if q, ok := res.list[res.name]; !ok || q.IsZero() {
			t.Errorf("no %s in %+v", res.name, c.Resources)
		}
	}
	if e := env["GOMEMLIMIT"]; e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("GOMEMLIMIT %+v, want the memory limit", e)
	}

	// Volumes: a writable /tmp, the data directory for SQLite, everything
	// else read-only.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
		v, ok := vols[m.Name]
		if !ok {
			t.Errorf("mount %s of no volume %s", m.MountPath, m.Name)
		}
		writable := m.MountPath == "/tmp" || (!vs.postgres && m.MountPath == "/var/lib/mcasbot")
		if writable == m.ReadOnly {
			t.Errorf("mount %s readOnly=%v", m.MountPath, m.ReadOnly)
		}
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440) {
			t.Errorf("secret volume %s mode %v, want 0440", v.Name, v.Secret.DefaultMode)
		}
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
	if tmp, ok := mounts["/tmp"]; !ok || vols[tmp.Name].EmptyDir == nil {
		t.Error("/tmp is not a writable emptyDir: the report's chart is written there")
	}

	// Every *_FILE or *_PATH points at a key of a mounted Secret or ConfigMap.
	for name, e := range env {
		if !strings.HasSuffix(name, "_FILE") && !strings.HasSuffix(name, "_PATH") {
			continue
		}
		dir, key := path.Split(e.Value)
		m, ok := mounts[strings.TrimSuffix(dir, "/")]
		if !ok {
			t.Errorf("%s=%s is on no mounted volume", name, e.Value)
			continue
		}
		v := vols[m.Name]
		switch {
		case v.Secret != nil:
			if v.Secret.SecretName == "" || !m.ReadOnly {
				t.Errorf("%s: secret volume %+v", name, v.Secret)
			}
			if len(v.Secret.Items) > 0 && !slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == key }) {
				t.Errorf("%s: %s is not among the volume's items", name, key)
			}
		case v.ConfigMap != nil && name == "TENANTS_FILE":
		default:
			t.Errorf("%s=%s is not on a Secret volume", name, e.Value)
		}
	}

	// Workload identity: the webhook acts on this label.
	if got := d.Spec.Template.Labels["azure.workload.identity/use"]; (got == "true") != vs.wi || (got != "" && got != "true") {
		t.Errorf("azure.workload.identity/use=%q, workload identity %v", got, vs.wi)
	}
	if vs.wi {
		if _, ok := env["AZURE_CLIENT_ID"]; ok {
			t.Error("AZURE_CLIENT_ID is set: the webhook's would be ignored")
		}
	}
	if !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not select the pod %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
}

// checkSecretFiles: each variable of secrets.files names its key's file.
func checkSecretFiles(t *testing.T, vals map[string]any, r rendered) {
	secrets, _ := vals["secrets"].(map[string]any)
	files, _ := secrets["files"].(map[string]any)
	env := map[string]string{}
	for _, e := range r.deploy.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	for name, key := range files {
		if want := "/var/run/secrets/mcasbot/" + key.(string); env[name] != want {
			t.Errorf("%s=%q, want %s", name, env[name], want)
		}
	}
}

// checkStore: SQLite on a writable volume with one replica recreated, or
// PostgreSQL's URL read from a Secret.
func checkStore(t *testing.T, vs valueSet, r rendered) {
	d := r.deploy
	pod := d.Spec.Template.Spec
	env := map[string]string{}
	for _, e := range pod.Containers[0].Env {
		env[e.Name] = e.Value
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if vs.postgres {
		if _, ok := env["DATABASE_URL"]; ok {
			t.Error("DATABASE_URL is a value: PostgreSQL's carries a password, read it from DATABASE_URL_FILE")
		}
		if !strings.HasPrefix(env["DATABASE_URL_FILE"], "/var/run/secrets/") {
			t.Errorf("DATABASE_URL_FILE %q", env["DATABASE_URL_FILE"])
		}
		if _, ok := vols["data"]; ok {
			t.Error("a data volume with PostgreSQL")
		}
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("strategy %s with PostgreSQL", d.Spec.Strategy.Type)
		}
		return
	}
	if env["DATABASE_URL"] != "sqlite:/var/lib/mcasbot/mcasbot.db" {
		t.Errorf("DATABASE_URL %q", env["DATABASE_URL"])
	}
	// Two pods on their own SQLite files would each post the digest.
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s with SQLite, want Recreate", d.Spec.Strategy.Type)
	}
	data := vols["data"]
	switch {
	case vs.pvc == "" && data.EmptyDir == nil:
		t.Errorf("data volume %+v, want an emptyDir", data)
	case vs.pvc != "" && (data.PersistentVolumeClaim == nil || data.PersistentVolumeClaim.ClaimName != vs.pvc):
		t.Errorf("data volume %+v, want claim %s", data, vs.pvc)
	}
}

func checkObjects(t *testing.T, vs valueSet, r rendered) {
	podLabels := labels.Set(r.deploy.Spec.Template.Labels)

	if s := r.service; len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort.String() != "http" ||
		!labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
		t.Errorf("service %+v does not reach the pod's http port", s.Spec)
	}
	if r.pdb == nil || r.pdb.Spec.MaxUnavailable == nil || r.pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget %+v, want maxUnavailable", r.pdb)
	} else if sel, err := metav1.LabelSelectorAsSelector(r.pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pod", r.pdb.Spec.Selector)
	}

	if (r.sa != nil) != vs.ownSA {
		t.Errorf("ServiceAccount rendered: %v, want %v", r.sa != nil, vs.ownSA)
	}
	if r.sa != nil {
		if r.sa.Name != vs.sa || r.sa.AutomountServiceAccountToken == nil || *r.sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s automount %v", r.sa.Name, r.sa.AutomountServiceAccountToken)
		}
		id, ok := r.sa.Annotations["azure.workload.identity/client-id"]
		if ok != vs.wi || (vs.wi && !guid.MatchString(id)) {
			t.Errorf("ServiceAccount client-id annotation %q, workload identity %v", id, vs.wi)
		}
	}

	if (r.pvc != nil) != vs.ownPVC {
		t.Errorf("PersistentVolumeClaim rendered: %v, want %v", r.pvc != nil, vs.ownPVC)
	}
	if r.pvc != nil && (r.pvc.Name != vs.pvc || !slices.Equal(r.pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) ||
		r.pvc.Spec.Resources.Requests.Storage().IsZero() || r.pvc.Annotations["helm.sh/resource-policy"] != "keep") {
		t.Errorf("PersistentVolumeClaim %+v", r.pvc)
	}

	if (r.cm != nil) != vs.ownCM {
		t.Errorf("tenants ConfigMap rendered: %v, want %v", r.cm != nil, vs.ownCM)
	}
	var tenantsFile string
	for _, e := range r.deploy.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "TENANTS_FILE" {
			tenantsFile = e.Value
		}
	}
	if (tenantsFile != "") != (vs.tenants != "") {
		t.Errorf("TENANTS_FILE %q, tenants ConfigMap %q", tenantsFile, vs.tenants)
	}
	for _, v := range r.deploy.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name != vs.tenants {
			t.Errorf("ConfigMap volume %s, want %s", v.ConfigMap.Name, vs.tenants)
		}
	}
	if r.cm != nil {
		if r.cm.Name != vs.tenants || len(r.cm.Data) != 1 || r.cm.Data[path.Base(tenantsFile)] == "" {
			t.Errorf("tenants ConfigMap %+v for TENANTS_FILE %s", r.cm, tenantsFile)
		}
		// The bot reloads the mounted file; a checksum would restart the
		// pods for every change instead.
		if _, ok := r.deploy.Spec.Template.Annotations["checksum/tenants"]; ok {
			t.Error("checksum/tenants: a changed tenants file would restart the pods instead of being reloaded")
		}
	}
	if tenantsFile != "" {
		// A subPath mount never sees the ConfigMap's updates.
		for _, m := range r.deploy.Spec.Template.Spec.Containers[0].VolumeMounts {
			if strings.HasPrefix(tenantsFile, m.MountPath+"/") && m.SubPath != "" {
				t.Errorf("the tenants file is mounted with subPath %q: its updates would never reach the bot", m.SubPath)
			}
		}
	}

	if (r.monitor != nil) != vs.monitor {
		t.Errorf("ServiceMonitor rendered: %v, want %v", r.monitor != nil, vs.monitor)
	}
	if m := r.monitor; m != nil {
		sel, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(r.service.Labels)) {
			t.Errorf("ServiceMonitor selector %v does not select the Service %v", m.Spec.Selector, r.service.Labels)
		}
		if len(m.Spec.Endpoints) != 1 || m.Spec.Endpoints[0].Port != "http" || m.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v", m.Spec.Endpoints)
		}
		if m.Labels["release"] != "prometheus" {
			t.Errorf("ServiceMonitor labels %v lack serviceMonitor.labels", m.Labels)
		}
	}
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isTrue(b *bool) bool { return b != nil && *b }

// TestRefusals: values that must not install, each with a message that
// says what is wrong. Typos and secrets in values fail at the schema.
func TestRefusals(t *testing.T) {
	// Lint sees schema errors; it ignores fail, by design, so only
	// rendering (helm template, install) meets those.
	cases := []struct {
		name string
		file string
		set  map[string]any
		want []string
	}{
		{"two replicas on SQLite", "", map[string]any{"replicaCount": 2},
			[]string{"replicaCount is 2", "PostgreSQL", "database.kind=postgres"}},
		{"two replicas on SQLite with a PVC", "sqlite-values.yaml", map[string]any{"replicaCount": 2},
			[]string{"replicaCount is 2", "PostgreSQL"}},
		{"more replicas than Slack connections", "postgres-values.yaml", map[string]any{"replicaCount": 11},
			[]string{"replicaCount", "maximum"}},
		{"PostgreSQL without a Secret", "", map[string]any{"database": map[string]any{"kind": "postgres"}},
			[]string{"database.postgres.existingSecret"}},
		{"a database kind the bot lacks", "", map[string]any{"database": map[string]any{"kind": "mysql"}},
			[]string{"database", "kind"}},
		{"files without their Secret", "", map[string]any{"secrets": map[string]any{"files": map[string]any{"SLACK_BOT_TOKEN_FILE": "bot"}}},
			[]string{"secrets.existingSecret"}},
		{"a secret as a top-level value", "", map[string]any{"slackBotToken": "xoxb-canary"},
			[]string{"slackBotToken"}},
		{"a secret in config", "", map[string]any{"config": map[string]any{"SLACK_BOT_TOKEN": "xoxb-canary"}},
			[]string{"SLACK_BOT_TOKEN"}},
		{"a tenant token in config", "", map[string]any{"config": map[string]any{"MCAS_TENANT_0_TOKEN": "canary"}},
			[]string{"MCAS_TENANT_0_TOKEN"}},
		{"a client secret in config", "", map[string]any{"config": map[string]any{"AZURE_CLIENT_SECRET": "canary"}},
			[]string{"AZURE_CLIENT_SECRET"}},
		{"the database URL in config", "", map[string]any{"config": map[string]any{"DATABASE_URL": "postgres://u:canary@db/x"}},
			[]string{"DATABASE_URL"}},
		{"a file path in config", "", map[string]any{"config": map[string]any{"SLACK_BOT_TOKEN_FILE": "/x"}},
			[]string{"SLACK_BOT_TOKEN_FILE"}},
		{"a secret variable that is not a file", "", map[string]any{"secrets": map[string]any{"existingSecret": "s", "files": map[string]any{"SLACK_BOT_TOKEN": "bot"}}},
			[]string{"SLACK_BOT_TOKEN"}},
		{"a variable name that is not one", "", map[string]any{"config": map[string]any{"slack_allowed_users": "U0A"}},
			[]string{"slack_allowed_users"}},
		{"a typo in a nested key", "", map[string]any{"serviceMonitor": map[string]any{"enable": true}},
			[]string{"enable"}},
		{"a writable root filesystem", "", map[string]any{"securityContext": map[string]any{"readOnlyRootFilesystem": false}},
			[]string{"readOnlyRootFilesystem"}},
		{"capabilities", "", map[string]any{"securityContext": map[string]any{"capabilities": map[string]any{"drop": []any{"NET_RAW"}}}},
			[]string{"capabilities"}},
		{"root", "", map[string]any{"podSecurityContext": map[string]any{"runAsNonRoot": false}},
			[]string{"runAsNonRoot"}},
		{"workload identity without a client ID", "", map[string]any{"workloadIdentity": map[string]any{"enabled": true}},
			[]string{"workloadIdentity.clientId"}},
		{"workload identity with AZURE_CLIENT_ID", "", map[string]any{
			"workloadIdentity": map[string]any{"enabled": true, "clientId": "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"},
			"config":           map[string]any{"AZURE_CLIENT_ID": "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"}},
			[]string{"remove config.AZURE_CLIENT_ID"}},
		{"two sources for the tenants file", "", map[string]any{"tenants": map[string]any{"content": "x", "existingConfigMap": "y"}},
			[]string{"tenants"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals := merge(valuesFile(t, c.file), c.set)
			_, err := render(vals)
			if err == nil {
				t.Fatal("rendered")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "canary") {
				t.Errorf("the error repeats the secret value:\n%v", err)
			}
			lintFails := len(lintStrict(vals)) > 0
			if schema := strings.Contains(err.Error(), "schema"); lintFails != schema {
				t.Errorf("helm lint --strict fails: %v, want %v (the schema fails lint, fail does not)", lintFails, schema)
			}
		})
	}
}

// TestOptionalSettings: settings a user may turn off still render.
func TestOptionalSettings(t *testing.T) {
	t.Run("no memory limit", func(t *testing.T) {
		r := decode(t, map[string]any{"resources": map[string]any{"limits": nil}})
		c := r.deploy.Spec.Template.Spec.Containers[0]
		if len(c.Resources.Limits) > 0 || slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" }) {
			t.Errorf("limits %v, env %v", c.Resources.Limits, c.Env)
		}
	})
	t.Run("no PodDisruptionBudget, no ServiceAccount", func(t *testing.T) {
		r := decode(t, map[string]any{"podDisruptionBudget": map[string]any{"enabled": false},
			"serviceAccount": map[string]any{"create": false}})
		if r.pdb != nil || r.sa != nil || r.deploy.Spec.Template.Spec.ServiceAccountName != "default" {
			t.Errorf("PodDisruptionBudget %v, ServiceAccount %v as %q", r.pdb != nil, r.sa != nil, r.deploy.Spec.Template.Spec.ServiceAccountName)
		}
	})
	t.Run("image tag", func(t *testing.T) {
		r := decode(t, map[string]any{"image": map[string]any{"repository": "registry.example/mcasbot", "tag": "1.2.3"}})
		if img := r.deploy.Spec.Template.Spec.Containers[0].Image; img != "registry.example/mcasbot:1.2.3" {
			t.Errorf("image %s", img)
		}
	})
}
