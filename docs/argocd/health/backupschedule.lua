-- Argo CD health of a BackupSchedule (ops.qdrantops.io): Degraded when it
-- cannot be reconciled or, unless suspended, its backups are overdue (two
-- ticks without a success); Suspended when suspended; Healthy when Ready;
-- Progressing before.
local hs = {status = "Progressing", message = "Waiting for the provider"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local cond = {}
for _, c in ipairs(obj.status.conditions) do
  cond[c.type] = c
end
if cond.Synced ~= nil and cond.Synced.status == "False" then
  return {status = "Degraded", message = cond.Synced.message or "cannot reconcile"}
end
-- Suspended first: a schedule suspended on purpose goes overdue too.
if cond.Ready ~= nil and cond.Ready.status == "True" and cond.Ready.reason == "Suspended" then
  return {status = "Suspended", message = cond.Ready.message or "suspended"}
end
if cond.BackupOverdue ~= nil and cond.BackupOverdue.status == "True" then
  return {status = "Degraded", message = cond.BackupOverdue.message or "backups are overdue"}
end
if cond.Ready ~= nil and cond.Ready.status == "True" then
  return {status = "Healthy", message = "backups on schedule"}
end
return hs
