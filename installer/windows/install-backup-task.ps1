<#
.SYNOPSIS
  Register the PHMS nightly backup in Task Scheduler (single-PC clinic, embedded server).

.DESCRIPTION
  Takes one backup right away, so that a wrong path or a stopped server shows up now
  rather than tonight, then registers phms-backup-task.xml (with these paths) for the
  current account, which must be the account that ran 'phms-admin server init'.
  Failures of the nightly run show as Last Run Result 0x1 in Task Scheduler.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File install-backup-task.ps1 -Dest D:\PHMS-Backups -CopyTo \\nas\phms
#>
param(
    [string]$PhmsAdmin = "C:\PHMS\venv\Scripts\phms-admin.exe",
    [string]$Dest = "C:\PHMS\backups",
    [int]$KeepDays = 5,
    [string]$CopyTo = "",
    [string]$KeyFile = ""
)
$ErrorActionPreference = "Stop"
if (-not (Test-Path $PhmsAdmin)) { throw "phms-admin not found at $PhmsAdmin (use -PhmsAdmin)." }

$backupArgs = @("backup", "run", "--dest", $Dest, "--keep-days", "$KeepDays")
if ($CopyTo) { $backupArgs += @("--copy-to", $CopyTo) }
if ($KeyFile) { $backupArgs += @("--encrypt-key-file", $KeyFile) }

& $PhmsAdmin @backupArgs
if ($LASTEXITCODE -ne 0) { throw "The first backup failed (see above); the task was not registered." }

$quoted = ($backupArgs | ForEach-Object { if ($_ -match '\s|\\') { "`"$_`"" } else { $_ } }) -join " "
$xml = Get-Content -Raw -Path (Join-Path $PSScriptRoot "phms-backup-task.xml")
$xml = $xml -replace '<Command>.*</Command>', "<Command>$([Security.SecurityElement]::Escape($PhmsAdmin))</Command>"
$xml = $xml -replace '<Arguments>.*</Arguments>', "<Arguments>$([Security.SecurityElement]::Escape($quoted))</Arguments>"
Register-ScheduledTask -TaskName "Nightly backup" -TaskPath "\PHMS\" -Xml $xml `
    -User "$env:USERDOMAIN\$env:USERNAME" -Force | Out-Null
Write-Host "PHMS nightly backup registered (Task Scheduler > PHMS > Nightly backup): $PhmsAdmin $quoted"
