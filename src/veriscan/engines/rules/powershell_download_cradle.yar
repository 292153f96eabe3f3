/*
   PowerShell "download cradle": fetch a script from the web and run it in memory with
   Invoke-Expression, so nothing but the one-liner touches the disk.

   Source:  written for Veriscan (no third-party rule text).
   Licence: Apache License 2.0, as the rest of Veriscan.

   Suspicious, not malicious: some legitimate installers are distributed exactly this
   way (Chocolatey's one-line install, for one).
*/

rule SUSP_PowerShell_Download_Cradle
{
    meta:
        description = "PowerShell that downloads code from the web and runs it with Invoke-Expression"
        author = "Veriscan"
        reference = "https://attack.mitre.org/techniques/T1059/001/"
        severity = "suspicious"

    strings:
        $run1 = "IEX" ascii wide nocase fullword
        $run2 = "Invoke-Expression" ascii wide nocase

        $get1 = "DownloadString(" ascii wide nocase
        $get2 = "DownloadData(" ascii wide nocase
        $get3 = "Invoke-WebRequest" ascii wide nocase
        $get4 = "Invoke-RestMethod" ascii wide nocase

    condition:
        filesize < 5MB and any of ($run*) and any of ($get*)
}
