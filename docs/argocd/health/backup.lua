-- Argo CD health of a Backup (ops.qdrantops.io): Degraded when it failed or
-- cannot be reconciled, Healthy once Completed and Ready, Progressing before.
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
  local msg = "backup failed"
  if cond.Ready ~= nil and cond.Ready.message ~= nil then
    msg = cond.Ready.message
  end
  return {status = "Degraded", message = msg}
end
if phase == "Completed" then
  if cond.Ready ~= nil and cond.Ready.status == "True" then
    return {status = "Healthy", message = "backup completed"}
  end
  if cond.Ready ~= nil and cond.Ready.status == "False" then
    return {status = "Degraded", message = cond.Ready.message or "backup completed but is not restorable"}
  end
end
if phase == "Expired" then
  return {status = "Healthy", message = "backup expired by its retentionDays"}
end
if phase ~= "" then
  hs.message = "phase " .. phase
end
return hs
