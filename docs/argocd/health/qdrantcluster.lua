-- Argo CD health of a QdrantCluster (qdrantops.io): from its phase, and
-- Degraded when its composition cannot be reconciled or its backups are
-- overdue.
local hs = {status = "Progressing", message = "Waiting for the cluster"}
if obj.status == nil then
  return hs
end
local cond = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    cond[c.type] = c
  end
end
if cond.Synced ~= nil and cond.Synced.status == "False" then
  return {status = "Degraded", message = cond.Synced.message or "cannot compose"}
end
if obj.status.phase == "Failed" then
  return {status = "Degraded", message = "the cluster failed"}
end
if cond.BackupOverdue ~= nil and cond.BackupOverdue.status == "True" then
  return {status = "Degraded", message = cond.BackupOverdue.message or "backups are overdue"}
end
if obj.status.phase == "Running" and cond.Ready ~= nil and cond.Ready.status == "True" then
  return {status = "Healthy", message = "running"}
end
if obj.status.phase ~= nil then
  hs.message = "phase " .. obj.status.phase
end
return hs
