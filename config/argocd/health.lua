-- Argo CD health of a ReliabilityProfile (reliability.dev/v1alpha1), the same verdicts kstatus gives:
--   this generation not reconciled yet, or the operator is retrying  -> Progressing
--   Stalled (a foreign object, a refused apply, an invalid query)    -> Degraded
--   Ready (in Audit mode: the report of what differs is complete)    -> Healthy
-- Audit mode is Healthy, not Suspended: the operator does what the profile asks (it reports and changes
-- nothing), and Suspended would turn every Application that tries Audit mode yellow and hold its sync waves.
local hs = {status = "Progressing", message = "Waiting for the reliability operator to reconcile this generation."}
if obj.status == nil or obj.metadata == nil or obj.metadata.generation == nil then
  return hs
end
if obj.status.observedGeneration == nil or obj.status.observedGeneration ~= obj.metadata.generation then
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local stalled, reconciling, ready = conditions["Stalled"], conditions["Reconciling"], conditions["Ready"]
if stalled ~= nil and stalled.status == "True" then
  hs.status, hs.message = "Degraded", stalled.message
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.status, hs.message = "Progressing", reconciling.message
elseif ready ~= nil and ready.status == "True" then
  hs.status, hs.message = "Healthy", ready.message
elseif ready ~= nil and ready.status == "False" then
  hs.status, hs.message = "Degraded", ready.message
end
return hs
