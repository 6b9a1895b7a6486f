-- Argo CD health of a Restore (ops.qdrantops.io): Degraded when it failed or
-- cannot be reconciled, Healthy once Completed and Ready (its counts
-- verified), Progressing before.
local hs = {status = "Progressing", message = "Waiting for the provider"}
if obj.status == nil then
  return hs
end
local cond = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    cond[c.type] = c
  end
end
local phase = ""
if obj.status.atProvider ~= nil and obj.status.atProvider.phase ~= nil then
  phase = obj.status.atProvider.phase
end
if cond.Synced ~= nil and cond.Synced.status == "False" then
  return {status = "Degraded", message = cond.Synced.message or "cannot reconcile"}
end
if phase == "Failed" then
  local msg = "restore failed"
  if cond.Ready ~= nil and cond.Ready.message ~= nil then
    msg = cond.Ready.message
  end
  return {status = "Degraded", message = msg}
end
if phase == "Completed" and cond.Ready ~= nil and cond.Ready.status == "True" then
  return {status = "Healthy", message = "restore completed and verified"}
end
if phase ~= "" then
  hs.message = "phase " .. phase
end
return hs
