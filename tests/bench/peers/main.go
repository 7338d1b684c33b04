// bench-peer: the controller-runtime operator that tests/bench/compare runs
// beside coxswain. It does natively what the bench hook
// (tests/bench/data/compare/hook.py) asks coxswain to do, for every Parent
// (compare.coxswain.io/v1) of one namespace:
//   - server-side apply one ConfigMap named after the Parent, data.value =
//     spec.value, with a controller ownerReference to it;
//   - write status {ready: true, observedGeneration, conditions: [Ready]}
//     when it is not already so (coxswain writes the hook's status
//     {ready: true} plus observedGeneration and its Synced/Ready conditions).
//
// It is written as a kubebuilder user would write it: a typed API, the
// manager's cached client, For(Parent).Owns(ConfigMap), and
// controller-runtime's defaults everywhere (GetConfig leaves the client
// without a client-side rate limit; the manager's default queue and
// backoff) except the worker count, which is a flag.
//
//	bench-peer --kubeconfig FILE --namespace NS [--workers N]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// GroupVersion of the bench CRD (tests/bench/data/compare/crd.yaml).
var GroupVersion = schema.GroupVersion{Group: "compare.coxswain.io", Version: "v1"}

// ParentSpec, ParentStatus, Parent, ParentList: the typed API. DeepCopy is
// written by hand (what controller-gen would generate) to keep the peer
// one file.
type ParentSpec struct {
	Value string `json:"value,omitempty"`
}

type ParentStatus struct {
	Ready              bool               `json:"ready,omitempty"`
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

type Parent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ParentSpec   `json:"spec,omitempty"`
	Status            ParentStatus `json:"status,omitempty"`
}

type ParentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Parent `json:"items"`
}

func (in *Parent) DeepCopyInto(out *Parent) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = in.Spec
	out.Status = in.Status
	if in.Status.Conditions != nil {
		out.Status.Conditions = make([]metav1.Condition, len(in.Status.Conditions))
		for i := range in.Status.Conditions {
			in.Status.Conditions[i].DeepCopyInto(&out.Status.Conditions[i])
		}
	}
}

func (in *Parent) DeepCopy() *Parent {
	if in == nil {
		return nil
	}
	out := new(Parent)
	in.DeepCopyInto(out)
	return out
}

func (in *Parent) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *ParentList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := new(ParentList)
	*out = *in
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Parent, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Parent{}, &ParentList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

const fieldOwner = "bench-peer"

type reconciler struct {
	client.Client
}

// Reconcile applies the Parent's ConfigMap every time (as SSA controllers
// usually do: the API server turns an unchanged apply into a no-op, but it
// is still a request), then writes the status only when it differs.
func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p Parent
	if err := r.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	cm := corev1ac.ConfigMap(p.Name, p.Namespace).
		WithData(map[string]string{"value": p.Spec.Value}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(GroupVersion.String()).WithKind("Parent").
			WithName(p.Name).WithUID(p.UID).
			WithController(true).WithBlockOwnerDeletion(true))
	if err := r.Apply(ctx, cm, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return ctrl.Result{}, fmt.Errorf("apply ConfigMap %s/%s: %w", p.Namespace, p.Name, err)
	}
	ready := apimeta.FindStatusCondition(p.Status.Conditions, "Ready")
	if p.Status.Ready && p.Status.ObservedGeneration == p.Generation &&
		ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == p.Generation {
		return ctrl.Result{}, nil
	}
	base := p.DeepCopy()
	p.Status.Ready = true
	p.Status.ObservedGeneration = p.Generation
	apimeta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{
		Type: "Ready", Status: metav1.ConditionTrue, Reason: "Synced",
		Message: "the ConfigMap is applied", ObservedGeneration: p.Generation,
	})
	if err := r.Status().Patch(ctx, &p, client.MergeFrom(base)); err != nil {
		return ctrl.Result{}, fmt.Errorf("status of %s/%s: %w", p.Namespace, p.Name, err)
	}
	return ctrl.Result{}, nil
}

func main() {
	namespace := flag.String("namespace", "", "the namespace whose Parents are reconciled (required)")
	workers := flag.Int("workers", 2, "MaxConcurrentReconciles (controller-runtime's own default is 1)")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("bench-peer")
	if *namespace == "" || *workers < 1 {
		fmt.Fprintln(os.Stderr, "usage: bench-peer --kubeconfig FILE --namespace NS [--workers N]")
		os.Exit(2)
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := addKnownTypes(scheme); err != nil {
		panic(err)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{*namespace: {}}},
	})
	if err != nil {
		log.Error(err, "cannot create the manager")
		os.Exit(1)
	}
	err = ctrl.NewControllerManagedBy(mgr).
		For(&Parent{}).
		Owns(&corev1.ConfigMap{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: *workers}).
		Complete(&reconciler{Client: mgr.GetClient()})
	if err != nil {
		log.Error(err, "cannot create the controller")
		os.Exit(1)
	}
	log.Info("starting", "namespace", *namespace, "workers", *workers)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}
