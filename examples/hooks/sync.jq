# The same sync logic as persistent-sync.py, as a jq hook (README "jq hooks").
# coxswain.yaml takes the program as a string:
#   hooks:
#     sync: {jq: {program: "{status: {ready: true, greeting: (.parent.spec.greeting // \"\")}, ..."}}
# The input is the request; the one output is the answer.
(.parent.spec.greeting // "") as $greeting
| {status: {ready: true, greeting: $greeting},
   children: [{apiVersion: "v1", kind: "ConfigMap",
               metadata: {name: (.parent.metadata.name + "-greeting")},
               data: {greeting: $greeting}}]}
